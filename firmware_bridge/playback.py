"""A recording's decoded streams, per device, as the live session would have delivered them.

:func:`recorded_streams` decodes a ``.m3erec`` file (:mod:`firmware_bridge.recording`) with each device's
decoder and :class:`~firmware_bridge.integrity.StreamIntegrity` (as :class:`~firmware_bridge.session.StreamSession`
does live), converts to SI and returns, per device id, the delivered batches in order plus concatenated arrays.
``edge-calibrate --recording`` and ``edge-stream --recording`` read recordings through it, so a recording
replays through exactly the live code path after the radio.

Recordings are read with resynchronisation (:func:`firmware_bridge.recording.read_recording` ``resync=True``): a
damaged record costs that record, not the rest of the file. :func:`open_recording` returns the streams together
with what the reader skipped (:meth:`Replay.report`), which every command prints and puts in its JSON summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bleak.uuids import normalize_uuid_str

from toolkit.errors import InputFileError

from .devices import get_profile, recording_decoders
from .protocols.base import ImuBatch
from .recording import EVENT, RecordingContents, decode_contents, read_recording


@dataclass
class RecordedStream:
    """One device's delivered batches (SI units, device axes) from a recording.

    Attributes:
        device_id: the id the session gave the device.
        profile: its BLE profile name (:mod:`firmware_bridge.devices`).
        batches: delivered batches in order (``host_time_s`` filled; ``meta["arrival_host_s"]`` = when the packet
            arrived, ``time.time()`` scale).
    """

    device_id: str
    profile: str
    batches: list[ImuBatch]

    def __len__(self) -> int:
        return sum(len(b) for b in self.batches)

    def arrays(self) -> dict[str, np.ndarray | None]:
        """Concatenated ``t_s`` (device time when every batch has it, else host time) [s], ``device_time_s`` (or
        None), ``host_time_s``, ``acc`` (N, 3) m/s^2, ``gyro`` (N, 3) rad/s or None, ``arrival_s`` (per sample: its
        packet's arrival, ``time.time()`` scale)."""
        bs = self.batches
        if not bs:
            raise InputFileError(self.device_id, "no samples recorded for this device")
        device_time = all(b.device_time_s is not None for b in bs)
        t = np.concatenate([b.device_time_s if device_time else b.host_time_s for b in bs])  # type: ignore[misc]
        gyro = np.concatenate([b.gyro for b in bs]) if all(b.gyro is not None for b in bs) else None  # type: ignore[misc]
        arrival = np.concatenate([np.full(len(b), float(b.meta.get("arrival_host_s", np.nan))) for b in bs])
        host = np.concatenate([b.host_time_s for b in bs])  # type: ignore[misc]
        return {"t_s": t, "device_time_s": t if device_time else None, "host_time_s": host,
                "acc": np.concatenate([b.acc for b in bs]), "gyro": gyro, "arrival_s": arrival}


def _session_devices(event: dict, path: Path) -> dict[str, str]:
    devices = event.get("devices")
    if devices is None:
        return {}
    if not isinstance(devices, dict):
        raise InputFileError(path, f"session-start event: 'devices' is a {type(devices).__name__}, expected an "
                                   "object of device id -> {profile: ...}")
    out = {}
    for dev, info in devices.items():
        if isinstance(info, dict) and isinstance(info.get("profile"), str):
            out[str(dev)] = info["profile"]
    return out


def _session_starts(contents: RecordingContents) -> Iterator[dict]:
    """The decodable ``session-start`` events of the records read, in order."""
    for rec in contents.records:
        if rec.rtype != EVENT or rec.device_id:
            continue
        try:
            event = json.loads(rec.data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(event, dict) and event.get("event") == "session-start":
            yield event


def devices_of(contents: RecordingContents) -> dict[str, str]:
    """Device id -> BLE profile name, from the ``session-start`` events of records read (later sessions win)."""
    out: dict[str, str] = {}
    for event in _session_starts(contents):
        out.update(_session_devices(event, contents.path))
    return out


def backend_of(contents: RecordingContents) -> str | None:
    """The backend id (``"platform"``: real hardware, ``"virtual"``) of the last ``session-start`` event naming one
    (None: none does, e.g. a recording written before backend ids were recorded)."""
    out = None
    for event in _session_starts(contents):
        if isinstance(event.get("backend"), str):
            out = event["backend"]
    return out


def recorded_devices(path: str | Path) -> dict[str, str]:
    """Device id -> BLE profile name, from the recording's ``session-start`` events (later sessions win)."""
    return devices_of(read_recording(path, resync=True))


@dataclass
class Replay:
    """A recording opened for replay: the per-device streams and what the reader found in the file."""

    streams: dict[str, RecordedStream]
    contents: RecordingContents
    decode_errors: int = 0

    def report(self) -> dict[str, object]:
        """JSON-ready integrity figures of the file (:meth:`RecordingContents.report`) + packets the decoder
        refused."""
        return {**self.contents.report(), "decode_errors": self.decode_errors}

    def describe(self) -> str:
        """One line for the terminal ('' for a clean, single, fully decoded recording)."""
        text = self.contents.describe()
        if self.decode_errors:
            text += ("; " if text else "") + f"{self.decode_errors} packet(s) the decoder refused"
        return text


def open_recording(path: str | Path) -> Replay:
    """Every device's delivered stream in a recording, with the reader's report (see the module docstring).

    Raises:
        InputFileError: not a recording, or one without a session-start event naming the devices.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such recording")
    if not path.is_file():
        raise InputFileError(path, "not a file (a recording is one .m3erec file)")
    contents = read_recording(path, resync=True)
    devices = devices_of(contents)
    if not devices:
        damage = contents.describe()
        raise InputFileError(path, "no session-start event: not written by edge-record / edge-stream / edge-calibrate, "
                                   "cannot tell the devices' profiles" + (f" ({damage})" if damage else ""))
    decoded = decode_contents(contents, recording_decoders(), with_integrity=True)
    streams = {dev: RecordedStream(dev, prof, []) for dev, prof in devices.items()}
    for rb in decoded.batches:
        stream = streams.get(rb.device_id)
        if stream is None:
            continue
        data_uuid = normalize_uuid_str(get_profile(stream.profile).data_char_uuid)
        if normalize_uuid_str(rb.char_uuid) != data_uuid or len(rb.batch) == 0:
            continue
        stream.batches.append(rb.batch.to_si())
    return Replay({k: v for k, v in streams.items() if v.batches}, contents, len(decoded.errors))


def recorded_streams(path: str | Path) -> dict[str, RecordedStream]:
    """Every device's delivered stream in a recording (:func:`open_recording` without the report)."""
    return open_recording(path).streams


__all__ = [
    "RecordedStream",
    "Replay",
    "backend_of",
    "devices_of",
    "open_recording",
    "recorded_devices",
    "recorded_streams",
]
