"""Virtual replays by name (``--virtual NAME``): the dataset lookup of the BLE commands.

This is the one place where a virtual device's *name* (``sp-sw-har:s05_03``, ``seglearn:3``, ``protocol@right``;
forms in :mod:`firmware_bridge.virtual.catalog`) is turned into samples: it finds and reads the datasets through
:mod:`toolkit.data` and hands :mod:`firmware_bridge.virtual` a :class:`~firmware_bridge.virtual.sources.SampleSeries`
(device time, acc m/s^2 with gravity in the Android sign, gyro rad/s, device axes). It lives in the command layer so
that the BLE library below never imports a dataset loader.

Finding recordings (:mod:`toolkit.data.paths`): an explicit ``--data-root``, else ``$MULTI3EDGE_DATA``, else
``../shared/data`` beside the repository; a missing dataset raises a one-line :class:`DatasetNotFoundError`
saying where it looked.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from firmware_bridge.virtual.catalog import (
    NAME_FORMS,
    VirtualDeviceSpec,
    split_profile_prefix,
    start_virtual_peripherals,
)
from firmware_bridge.virtual.peripheral import VirtualPeripheral
from firmware_bridge.virtual.sources import (
    SampleSeries,
    concatenate,
    generate_protocol,
    generate_sine,
    generate_still,
    worn,
)
from toolkit.cli.file_replay import load_trial_file
from toolkit.data import seglearn, sp_sw_har
from toolkit.data.paths import DatasetNotFoundError, find_dataset
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError
from toolkit.mount import wear_keywords

SEGLEARN_NPZ = Path("seglearn") / "watch_dataset.npz"
SEGLEARN_RATE_HZ = seglearn.RATE_HZ

DEFAULT_GENERATED_SECONDS = 60.0



def _seconds(arg: str, name: str) -> float:
    try:
        value = float(arg)
    except ValueError:
        raise ConfigError(f"bad virtual device {name!r}: {arg!r} is not a number of seconds") from None
    if not 0 < value <= 86400:
        raise ConfigError(f"bad virtual device {name!r}: seconds must be in (0, 86400]")
    return value


def resolve_virtual(name: str, data_root: str | Path | None = None, rate_hz: float | None = None
                    ) -> VirtualDeviceSpec:
    """Turn a catalogue name into a :class:`VirtualDeviceSpec` (loads the recording).

    ``file:PATH`` replays one trial file's raw device values over imu-stream (:mod:`toolkit.cli.file_replay`);
    ``rate_hz`` (the ``--profile`` device's nominal rate) times a file without a time column.

    Raises:
        ConfigError: unknown name (one line listing the forms) or bad argument.
        DatasetNotFoundError: the recording is not found (says where it looked).
    """
    base, *modifiers = name.strip().split("@")
    profile, watch_mode, base = split_profile_prefix(base)  # touch:, touch-approval:, touch-declines:
    wearing = _wearing(modifiers, name)
    kind, _, arg = base.partition(":")
    if kind in ("sine", "still"):
        seconds = _seconds(arg, name) if arg else DEFAULT_GENERATED_SECONDS
        series = generate_sine(seconds) if kind == "sine" else generate_still(seconds)
    elif kind == "protocol" and not arg:
        series = generate_protocol()
    elif kind == "sp-sw-har" and arg and "_" not in arg:
        series = load_sp_sw_har_subject(arg, data_root)
    elif kind == "sp-sw-har" and arg:
        series = load_sp_sw_har_recording(arg, data_root)
    elif kind == "file" and arg:  # raw device values: the receiver converts them with --profile
        if wearing or profile != "imu-stream":
            raise ConfigError(f"virtual device {name!r}: a file: replay sends the file's raw values over imu-stream; "
                              "give the wrist with --wrist / --mount and no touch: prefix or @ modifier")
        series = load_trial_file(arg, rate_hz)
    elif kind == "seglearn" and arg:
        if not arg.isdigit():
            raise ConfigError(f"bad virtual device {name!r}: seglearn needs a recording index, e.g. seglearn:3")
        series = load_seglearn_recording(int(arg), data_root)
    else:
        raise ConfigError(f"unknown virtual device {name!r} (known forms: {NAME_FORMS})")
    if wearing:
        series = worn(series, **wearing)  # type: ignore[arg-type]
    series.name = name
    return VirtualDeviceSpec(name, profile, series, watch_mode)


def _wearing(modifiers: list[str], name: str) -> dict[str, object]:
    """``["right", "rot30"]`` -> keyword arguments of :func:`~firmware_bridge.virtual.sources.worn`."""
    try:
        return wear_keywords(modifiers)
    except ValueError as e:
        mod = str(e)
        if mod.startswith("rot"):
            raise ConfigError(f"bad virtual device {name!r}: @{mod} must be @rotDEG, e.g. @rot30") from None
        raise ConfigError(f"bad virtual device {name!r}: unknown modifier @{mod} "
                          "(known: @right, @palmar, @rotDEG)") from None


def load_sp_sw_har_subject(subject: str, data_root: str | Path | None = None) -> SampleSeries:
    """Every watch recording of ``sXX`` back to back (:func:`~firmware_bridge.virtual.sources.concatenate`)."""
    digits = subject.lower().lstrip("s")
    if not digits.isdigit():
        raise ConfigError(f"bad sp-sw-har subject {subject!r}: expected sXX, e.g. s05")
    sid = f"s{int(digits):02d}"
    folder = find_dataset(f"{sp_sw_har.DATASET_DIR}/DATA/{sid}", data_root)
    files = sorted(folder.glob(f"{sid}_*_sw.csv"))
    if not files:
        raise ConfigError(f"no watch recordings of {sid} in {folder}")
    return concatenate([load_sp_sw_har_recording(f.stem[: -len("_sw")], data_root) for f in files],
                       name=f"sp-sw-har:{sid}")


# --------------------------------------------------------------------------- real recordings
# Reading the datasets is toolkit.data's job (one implementation for training and replay); a replay
# only re-encodes what the device itself would have sent: device axes, SI units, Android sign.


def sp_sw_har_path(recording: str, data_root: str | Path | None = None) -> Path:
    """Path of ``sXX_YY`` (subject XX, execution YY) watch CSV: ``<root>/sp-sw-har/DATA/sXX/sXX_YY_sw.csv``."""
    rec = recording.strip()
    parts = rec.lower().lstrip("s").split("_")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"bad sp-sw-har recording {recording!r}: expected sXX_YY, e.g. s05_03")
    subject, execution = (f"{int(p):02d}" for p in parts)
    relative = Path(sp_sw_har.DATASET_DIR) / "DATA" / f"s{subject}" / f"s{subject}_{execution}_sw.csv"
    return find_dataset(relative, data_root)


def load_sp_sw_har(path: str | Path, name: str | None = None) -> SampleSeries:
    """One sp-sw-har watch CSV (TicWatch Pro 3: Android frame and units already), timestamps in s."""
    path = Path(path)
    t_s, acc, gyro, labels = sp_sw_har.read_csv(path)
    dt = float(np.median(np.diff(t_s)))
    nominal = get_real_profile("wear-os-watch").rate_hz  # what toolkit.data resamples sp-sw-har from
    return SampleSeries(t_s=t_s, acc=acc, gyro=gyro, rate_hz=1.0 / dt if dt > 0 else 100.0, name=name or path.stem,
                        labels=np.asarray(labels),
                        meta={"source": "sp-sw-har", "path": str(path), "nominal_rate_hz": nominal})


def load_sp_sw_har_recording(recording: str, data_root: str | Path | None = None) -> SampleSeries:
    """Find and read ``sXX_YY`` (e.g. ``"s05_03"``)."""
    return load_sp_sw_har(sp_sw_har_path(recording, data_root), name=f"sp-sw-har:{recording}")


def seglearn_npz_path(data_root: str | Path | None = None) -> Path:
    """``<data root>/seglearn/watch_dataset.npz`` if present, else the converted copy in the cache
    (:func:`toolkit.data.seglearn.ensure_seglearn` downloads and converts the wheel once)."""
    if data_root is not None and (Path(data_root) / SEGLEARN_NPZ).is_file():
        return Path(data_root) / SEGLEARN_NPZ
    return seglearn.ensure_seglearn()


def load_seglearn(npz_path: str | Path, index: int) -> SampleSeries:
    """Recording ``index`` (0..139) of the converted seglearn watch dataset, as an imu-stream watch would send it.

    The Apple Watch's axes are the watch frame already; the ``apple-watch`` profile converts its iOS-sign g
    into Android-sign m/s^2 (``acc_si = -9.81 * acc_g``).
    """
    z = seglearn.read_npz(npz_path)
    offsets = z["offsets"]
    if not 0 <= index < len(offsets) - 1:
        raise ConfigError(f"seglearn index {index} out of range 0..{len(offsets) - 2}")
    rows = z["data"][int(offsets[index]) : int(offsets[index + 1])]
    label = str(z["y_labels"][int(z["y"][index])])
    rate = float(z["rate_hz"]) if "rate_hz" in z else SEGLEARN_RATE_HZ
    acc, gyro = get_real_profile("apple-watch").to_simulator(rows[:, 0:3], rows[:, 3:6])
    n = rows.shape[0]
    return SampleSeries(
        t_s=np.arange(n, dtype=np.float64) / rate, acc=acc, gyro=gyro, rate_hz=rate, name=f"seglearn:{index}",
        labels=np.full(n, label),
        meta={"source": "seglearn", "subject": int(z["subject"][index]), "nominal_rate_hz": rate,
              "side": seglearn.SIDE_TO_WRIST[int(z["side"][index])], "exercise": label,
              "conversion": "apple-watch profile: acc_si = -9.81 * acc_g (iOS -> Android sign)"},
    )  # fmt: skip


def load_seglearn_recording(index: int, data_root: str | Path | None = None) -> SampleSeries:
    return load_seglearn(seglearn_npz_path(data_root), index)


async def start_virtual_devices(names: Iterable[str], data_root: str | Path | None = None, **kwargs: object
                                ) -> list[VirtualPeripheral]:
    """Resolve and start one peripheral per name (repeated names get ``#2``, ``#3`` in their advertised name)."""
    return await start_virtual_peripherals([resolve_virtual(n, data_root) for n in names], **kwargs)


__all__ = [
    "DEFAULT_GENERATED_SECONDS",
    "NAME_FORMS",
    "DatasetNotFoundError",
    "load_seglearn",
    "load_seglearn_recording",
    "load_sp_sw_har",
    "load_sp_sw_har_recording",
    "load_sp_sw_har_subject",
    "resolve_virtual",
    "seglearn_npz_path",
    "sp_sw_har_path",
    "start_virtual_devices",
]
