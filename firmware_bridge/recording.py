"""Crash-safe recording of raw BLE traffic, replay, and offline decoding.

File format (``.m3erec``), version 1, all integers little-endian
=================================================================
File header, 24 bytes::

    0   8   magic  b"M3EREC\\r\\n"   (the CR LF catches text-mode mangling)
    8   2   u16 format version (1)
    10  2   u16 reserved (0)
    12  8   f64 creation time [unix s]
    20  4   u32 CRC-32 of bytes 0..19

Then records, appended one after the other::

    0       4   u32 L: length of the body (type .. raw bytes), 26 <= L <= 16 MiB
    4       1   u8 record type: 1 notification (device -> host), 2 write (host -> device), 3 event
                (raw = UTF-8 text, e.g. JSON: connect/disconnect/annotations)
    5       8   f64 host time [unix s] at which the bytes were received/sent
    13      1   u8 n: length of the device id
    14      n   device id, UTF-8 (e.g. a BLE address or a name)
    14+n    16  characteristic UUID, 16 bytes big-endian (``uuid.UUID.bytes``; zeros for none)
    30+n    ..  raw bytes, exactly as received (L - 26 - n bytes)
    4+L     4   u32 CRC-32 of bytes 0 .. 4+L-1 (the length field and the body)

CRC-32 is the IEEE 802.3 / zlib CRC (poly 0x04C11DB7 reflected, init and xorout 0xFFFFFFFF).

Events (record type 3): UTF-8 JSON objects with an ``"event"`` key. Readers skip kinds they do not know, so a new
kind needs no new format version (the header's version changes only with the byte layout). Kinds written so far:

==================  ==========  ==============================================================================
kind                device id   fields
==================  ==========  ==============================================================================
``session-start``   ``""``      ``backend`` (``platform`` / ``virtual``), ``devices``: id -> ``{profile, address,
                                data_char_uuid}``
``connected``       the device  ``address``
``session-stop``    the device  ``counters``
``start-write-error`` device    ``error`` (Touch SDK approval dialog)
``declined``        the device  (Touch SDK DISCONNECT signal)
``tag``             the device  ``source`` (``e4-button``), ``device_time_s``: the server's timestamp of the press
                                (unix s); the record's host time is its arrival (issue 13)
``device-status``   the device  ``status`` (``lost`` / ``reestablished`` / ``turned_off``), ``device``, ``message``
``device-gone``     the device  ``message``: why the stream ended (E4 turned off, server closed, link not back)
==================  ==========  ==============================================================================

:func:`events_of` returns the decodable events of records read.

Crash safety
    The writer only appends, and flushes + ``fsync``s at most ``flush_interval_s`` after a record
    was written (default 0.5 s; a background thread covers idle periods). After a crash (SIGKILL,
    power loss) the file ends in a possibly torn record; :func:`read_recording` stops at the first
    record that is incomplete or fails its CRC and reports how many bytes it discarded, so
    everything synced before the crash is recovered exactly.

Damage and concatenation (``read_recording(path, resync=True)``, what every replay reader uses)
    A damaged record (flipped byte, overwritten stretch) does not end the file: the reader scans forward byte by
    byte for the next offset where a whole record parses (plausible length, known type, CRC-32 match) and goes on
    from there, recording each skipped stretch (:class:`SkippedRegion`: offset, bytes, why). A second file header
    found between records (``cat a.m3erec b.m3erec``) is counted in ``concatenated`` and its records are read on.
    A stretch that runs to the end of the file is the torn tail (``truncated``). A false resynchronisation needs a
    CRC-32 collision (about 2^-32 per candidate offset).
"""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import InputFileError

from .integrity import StreamIntegrity
from .protocols.base import DecodeError, Decoder, ImuBatch

MAGIC = b"M3EREC\r\n"
VERSION = 1
HEADER = struct.Struct("<8sHHd")
HEADER_SIZE = HEADER.size + 4
MAX_RECORD_BODY = 16 * 1024 * 1024
_MIN_BODY = 1 + 8 + 1 + 16

NOTIFICATION = 1
WRITE = 2
EVENT = 3
RECORD_TYPES = {NOTIFICATION: "notification", WRITE: "write", EVENT: "event"}

_NULL_UUID = bytes(16)


@dataclass(frozen=True)
class Record:
    """One recorded item. ``char_uuid`` is a lowercase UUID string ('' when none)."""

    rtype: int
    host_time: float
    device_id: str
    char_uuid: str
    data: bytes


def _uuid_bytes(char_uuid: str | uuid.UUID | None) -> bytes:
    if not char_uuid:
        return _NULL_UUID
    return (char_uuid if isinstance(char_uuid, uuid.UUID) else uuid.UUID(str(char_uuid))).bytes


def encode_record(rec: Record) -> bytes:
    """Serialize one record (length, body, CRC)."""
    dev = rec.device_id.encode("utf-8")
    if len(dev) > 255:
        raise ValueError(f"device id longer than 255 bytes: {rec.device_id!r}")
    if rec.rtype not in RECORD_TYPES:
        raise ValueError(f"unknown record type {rec.rtype}")
    fixed = struct.pack("<BdB", rec.rtype, rec.host_time, len(dev))
    body = b"".join((fixed, dev, _uuid_bytes(rec.char_uuid), rec.data))
    if len(body) > MAX_RECORD_BODY:
        raise ValueError(f"record of {len(body)} bytes exceeds {MAX_RECORD_BODY}")
    head = struct.pack("<I", len(body)) + body
    return head + struct.pack("<I", zlib.crc32(head))


class RecordingWriter:
    """Append-only recorder; thread-safe; ``with RecordingWriter(path) as w: w.write(...)``.

    Args:
        path: file to create (refuses to overwrite unless ``overwrite``).
        flush_interval_s: longest time a written record may stay unsynced (flush + fsync).
        on_sync: called (under the writer's lock) with the number of records synced so far.
    """

    def __init__(self, path: str | Path, flush_interval_s: float = 0.5,
                 on_sync: Callable[[int], None] | None = None, overwrite: bool = False) -> None:
        if flush_interval_s <= 0:
            raise ValueError("flush_interval_s must be > 0")
        self.path = Path(path)
        self.flush_interval_s = flush_interval_s
        self.on_sync = on_sync
        self.records_written = 0
        self.records_synced = 0
        self._lock = threading.Lock()
        self._f: io.BufferedWriter | None = open(self.path, "wb" if overwrite else "xb")  # noqa: SIM115
        head = HEADER.pack(MAGIC, VERSION, 0, time.time())
        self._f.write(head + struct.pack("<I", zlib.crc32(head)))
        self._last_sync = time.monotonic()
        self._sync_locked()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recorder-sync:{self.path.name}", daemon=True)
        self._thread.start()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, device_id: str, char_uuid: str | uuid.UUID | None, data: bytes,
              host_time: float | None = None, rtype: int = NOTIFICATION) -> None:
        """Append one record (``host_time`` defaults to ``time.time()``)."""
        cu = str(uuid.UUID(str(char_uuid))) if char_uuid else ""
        blob = encode_record(Record(rtype, time.time() if host_time is None else float(host_time),
                                    device_id, cu, bytes(data)))
        with self._lock:
            if self._f is None:
                raise ValueError("recording is closed")
            self._f.write(blob)
            self.records_written += 1
            if time.monotonic() - self._last_sync >= self.flush_interval_s:
                self._sync_locked()

    def write_event(self, device_id: str, text: str, host_time: float | None = None) -> None:
        """Append an event record (UTF-8 text)."""
        self.write(device_id, None, text.encode("utf-8"), host_time, EVENT)

    def sync(self) -> None:
        """Flush and fsync now."""
        with self._lock:
            if self._f is not None:
                self._sync_locked()

    def close(self) -> None:
        """Sync and close (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        with self._lock:
            if self._f is not None:
                self._sync_locked()
                self._f.close()
                self._f = None

    def _sync_locked(self) -> None:
        assert self._f is not None
        self._f.flush()
        os.fsync(self._f.fileno())
        self._last_sync = time.monotonic()
        if self.records_synced != self.records_written or self.records_written == 0:
            self.records_synced = self.records_written
            if self.on_sync is not None and self.records_written:
                self.on_sync(self.records_synced)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s / 2):
            with self._lock:
                if self._f is not None and self.records_synced != self.records_written \
                        and time.monotonic() - self._last_sync >= self.flush_interval_s / 2:
                    self._sync_locked()


@dataclass(frozen=True)
class SkippedRegion:
    """A stretch of a recording that held no intact record: ``offset`` and ``length`` in bytes, ``reason`` (why the
    record at ``offset`` failed), ``at_end`` when it runs to the end of the file (a torn or truncated tail)."""

    offset: int
    length: int
    reason: str
    at_end: bool = False


@dataclass
class RecordingContents:
    """What :func:`read_recording` found.

    ``valid_bytes``: bytes in the header(s) and intact records; ``discarded_bytes``: every other byte (damaged
    stretches and the torn tail); ``skipped``: those stretches (only a torn tail without ``resync``);
    ``concatenated``: further file headers found after the first (files appended to each other).
    """

    path: Path
    version: int
    created: float
    records: list[Record]
    valid_bytes: int
    discarded_bytes: int
    stop_reason: str = ""  # "" when the file ended exactly after a record
    skipped: list[SkippedRegion] = field(default_factory=list)
    concatenated: int = 0

    @property
    def clean(self) -> bool:
        return self.discarded_bytes == 0

    @property
    def truncated(self) -> bool:
        """The file ends inside a record (torn tail after a crash, or a cut copy)."""
        return bool(self.skipped) and self.skipped[-1].at_end

    @property
    def damaged_regions(self) -> int:
        """Damaged stretches inside the file (each lost at least one record), the torn tail not counted."""
        return sum(not r.at_end for r in self.skipped)

    @property
    def skipped_bytes(self) -> int:
        """Bytes of the damaged stretches inside the file (the torn tail not counted)."""
        return sum(r.length for r in self.skipped if not r.at_end)

    def report(self) -> dict[str, object]:
        """Integrity figures for summaries (JSON-ready): bytes, records, skipped stretches, truncation, concatenation.
        """
        return {"records": len(self.records), "valid_bytes": self.valid_bytes, "discarded_bytes": self.discarded_bytes,
                "skipped_bytes": self.skipped_bytes, "skipped_regions": self.damaged_regions,
                "truncated": self.truncated, "truncated_bytes": self.skipped[-1].length if self.truncated else 0,
                "concatenated_files": self.concatenated, "clean": self.clean and not self.concatenated}

    def describe(self) -> str:
        """One line for the terminal: '' for a clean single recording."""
        parts = []
        if self.damaged_regions:
            parts.append(f"skipped {self.skipped_bytes} damaged bytes in {self.damaged_regions} place(s) "
                         f"(at least {self.damaged_regions} record(s) lost: {self.skipped[0].reason} at byte "
                         f"{self.skipped[0].offset})")
        if self.truncated:
            parts.append(f"truncated: the last {self.skipped[-1].length} bytes are a torn record")
        if self.concatenated:
            parts.append(f"{self.concatenated + 1} recordings concatenated")
        return "; ".join(parts)


def _read_header(data: bytes, path: Path) -> tuple[int, float]:
    if len(data) < HEADER_SIZE:
        raise InputFileError(path, f"too short for a recording header ({len(data)} bytes)")
    magic, version, _, created = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise InputFileError(path, "not a Multi3Edge recording (bad magic)")
    if struct.unpack_from("<I", data, HEADER.size)[0] != zlib.crc32(data[: HEADER.size]):
        raise InputFileError(path, "recording header CRC mismatch")
    if version != VERSION:
        raise InputFileError(path, f"recording format version {version}, this reader knows {VERSION}")
    return version, created


def _record_at(data: bytes, off: int) -> tuple[Record | None, int, str]:
    """The record starting at ``off``: (record, its end offset, "") or (None, off, why it is not one)."""
    n = len(data)
    if off + 4 > n:
        return None, off, "torn length field"
    length = struct.unpack_from("<I", data, off)[0]
    if not _MIN_BODY <= length <= MAX_RECORD_BODY:
        return None, off, f"implausible record length {length}"
    end = off + 4 + length + 4
    if end > n:
        return None, off, "torn record"
    if struct.unpack_from("<I", data, off + 4 + length)[0] != zlib.crc32(data[off:off + 4 + length]):
        return None, off, "record CRC mismatch"
    b = off + 4
    rtype, host_time, ndev = struct.unpack_from("<BdB", data, b)
    b += 10
    if length < _MIN_BODY + ndev:
        return None, off, "device id longer than the record"
    try:
        dev = data[b:b + ndev].decode("utf-8")
    except UnicodeDecodeError:
        return None, off, "device id is not UTF-8"
    b += ndev
    ub = data[b:b + 16]
    b += 16
    return (Record(rtype, host_time, dev, "" if ub == _NULL_UUID else str(uuid.UUID(bytes=ub)),
                   data[b:off + 4 + length]), end, "")


def parse_records(data: bytes, offset: int = HEADER_SIZE) -> tuple[list[Record], int, str]:
    """Parse records from ``offset``; returns (records, end of the last good record, stop reason)."""
    out: list[Record] = []
    off = offset
    while off < len(data):
        rec, end, reason = _record_at(data, off)
        if rec is None:
            return out, off, reason
        out.append(rec)
        off = end
    return out, off, ""


def _header_at(data: bytes, off: int) -> bool:
    """A valid file header (magic + CRC) starts at ``off`` (a concatenated recording)."""
    if data[off:off + len(MAGIC)] != MAGIC or off + HEADER_SIZE > len(data):
        return False
    return struct.unpack_from("<I", data, off + HEADER.size)[0] == zlib.crc32(data[off:off + HEADER.size])


def _plausible_start(data: bytes, off: int) -> bool:
    """Cheap filter before a CRC: plausible length, a known record type, a device id that fits."""
    if off + 4 + _MIN_BODY + 4 > len(data):
        return False
    length = struct.unpack_from("<I", data, off)[0]
    return (_MIN_BODY <= length <= MAX_RECORD_BODY and data[off + 4] in RECORD_TYPES
            and data[off + 13] + _MIN_BODY <= length and off + 8 + length <= len(data))


def scan_records(data: bytes, offset: int = HEADER_SIZE
                 ) -> tuple[list[Record], int, list[SkippedRegion], int]:
    """Parse records from ``offset``, resynchronising after damage (module docstring).

    Returns (records, valid bytes from ``offset`` on, skipped stretches, further file headers found).
    """
    out: list[Record] = []
    skipped: list[SkippedRegion] = []
    headers = 0
    valid = 0
    off, n = offset, len(data)
    while off < n:
        rec, end, reason = _record_at(data, off)
        if rec is not None:
            out.append(rec)
            valid += end - off
            off = end
            continue
        if _header_at(data, off):
            headers += 1
            valid += HEADER_SIZE
            off += HEADER_SIZE
            continue
        nxt = off + 1  # resynchronise: the next offset where a record (or a file header) is whole
        while nxt < n:
            if (_plausible_start(data, nxt) and _record_at(data, nxt)[0] is not None) or _header_at(data, nxt):
                break
            nxt += 1
        skipped.append(SkippedRegion(off, nxt - off, reason, at_end=nxt >= n))
        off = nxt
    return out, valid, skipped, headers


def read_recording(path: str | Path, resync: bool = False) -> RecordingContents:
    """Read every intact record and report the discarded bytes.

    Without ``resync`` it stops at the first torn or corrupt record (crash recovery: everything before it is
    exact). With ``resync`` it skips damaged stretches and reads on (module docstring), reporting each one.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputFileError(path, "is a folder, not a recording") from None
    except OSError as e:
        raise InputFileError(path, f"cannot read the recording ({e.strerror or e})") from None
    version, created = _read_header(data, path)
    if not resync:
        records, end, reason = parse_records(data)
        tail = [SkippedRegion(end, len(data) - end, reason, at_end=True)] if end < len(data) else []
        return RecordingContents(path, version, created, records, end, len(data) - end, reason, tail)
    records, valid, skipped, headers = scan_records(data)
    valid += HEADER_SIZE
    return RecordingContents(path, version, created, records, valid, len(data) - valid,
                             skipped[0].reason if skipped else "", skipped, headers)


def replay(path: str | Path, speed: float | None = None, resync: bool = False) -> Iterator[Record]:
    """Yield the recorded records in file order; with ``speed`` (1.0 = real time) pace them by host time."""
    start_wall = time.monotonic()
    first: float | None = None
    for rec in read_recording(path, resync=resync).records:
        if speed:
            first = rec.host_time if first is None else first
            delay = (rec.host_time - first) / speed - (time.monotonic() - start_wall)
            if delay > 0:
                time.sleep(delay)
        yield rec


@dataclass(frozen=True)
class RecordedEvent:
    """One decoded EVENT record: arrival host time [unix s], device id ('' for the session), the JSON object."""

    host_time: float
    device_id: str
    event: dict[str, object]

    @property
    def kind(self) -> str:
        return str(self.event.get("event", ""))


def events_of(contents: RecordingContents, kinds: tuple[str, ...] | None = None) -> list[RecordedEvent]:
    """The EVENT records holding a JSON object with an ``"event"`` key (of the given ``kinds``), in file order;
    undecodable event texts are skipped."""
    out = []
    for rec in contents.records:
        if rec.rtype != EVENT:
            continue
        try:
            event = json.loads(rec.data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str) and (kinds is None
                                                                               or event["event"] in kinds):
            out.append(RecordedEvent(rec.host_time, rec.device_id, event))
    return out


@dataclass
class RecordedBatch:
    """A decoded batch with where and when its bytes came from."""

    device_id: str
    char_uuid: str
    host_time: float
    batch: ImuBatch


@dataclass
class DecodedRecording:
    """Result of :func:`decode_recording`."""

    batches: list[RecordedBatch]
    decoders: dict[tuple[str, str], Decoder] = field(default_factory=dict)
    integrity: dict[tuple[str, str], StreamIntegrity] = field(default_factory=dict)
    errors: list[tuple[int, DecodeError]] = field(default_factory=list)  # (record index, error)
    discarded_bytes: int = 0
    contents: RecordingContents | None = None  #: what the reader found (records, skipped stretches)


def decode_recording(path: str | Path, decoders: Mapping[str, Callable[[], Decoder]],
                     with_integrity: bool = False, resync: bool = False, **integrity_kwargs: object
                     ) -> DecodedRecording:
    """Decode a recording offline, reproducing the live decoded stream.

    Args:
        decoders: characteristic UUID (any case) -> factory of a fresh decoder; one decoder is made
            per (device id, characteristic), as live. Records of other characteristics are skipped.
        with_integrity: also run each stream through :class:`StreamIntegrity` (host times filled).
        resync: read on after damaged records (:func:`read_recording`).
    """
    return decode_contents(read_recording(path, resync=resync), decoders, with_integrity, **integrity_kwargs)


def decode_contents(contents: RecordingContents, decoders: Mapping[str, Callable[[], Decoder]],
                    with_integrity: bool = False, **integrity_kwargs: object) -> DecodedRecording:
    """:func:`decode_recording` of records already read (:func:`read_recording`)."""
    factories = {str(uuid.UUID(k)): v for k, v in decoders.items()}
    result = DecodedRecording([], discarded_bytes=contents.discarded_bytes, contents=contents)
    for i, rec in enumerate(contents.records):
        if rec.rtype != NOTIFICATION or rec.char_uuid not in factories:
            continue
        key = (rec.device_id, rec.char_uuid)
        dec = result.decoders.get(key)
        if dec is None:
            dec = result.decoders[key] = factories[rec.char_uuid]()
        try:
            batches = dec.decode(rec.data)
        except DecodeError as e:
            result.errors.append((i, e))
            continue
        if with_integrity:
            integ = result.integrity.get(key)
            if integ is None:
                integ = result.integrity[key] = StreamIntegrity(**integrity_kwargs)  # type: ignore[arg-type]
            batches = [out for b in batches for out in integ.push(b, rec.host_time)]
        result.batches += [RecordedBatch(rec.device_id, rec.char_uuid, rec.host_time, b) for b in batches]
    if with_integrity:
        for (dev, cu), integ in result.integrity.items():
            result.batches += [RecordedBatch(dev, cu, float("nan"), b) for b in integ.flush()]
    return result
