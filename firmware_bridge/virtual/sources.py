"""Packet sources for :class:`~firmware_bridge.virtual.peripheral.VirtualPeripheral` that replay real recordings.

A source here is a finite iterable of ``(timestamp_s, packet_bytes)`` items (use the peripheral's
``pacing="timestamps"`` for real-time pacing): ``timestamp_s`` is the device time of the **last**
sample in the packet, i.e. when a real device could have sent it. A replay ends when its recording ends.

Recordings are first loaded into a :class:`SampleSeries` (device time, acc m/s^2 with gravity in the
Android sign convention, gyro rad/s, device axes) and then encoded in a device profile's packet format:

* :func:`imu_stream_packets`: Multi3Edge ``imu-stream`` packets (int16, default +-16 g / +-2000 dps
  scales, ``samples_per_packet`` samples each). A packet's ``t0_us`` is the recording's real
  timestamp of its first sample and ``period_us`` the packet's mean sample spacing
  ``round((t_last - t_first) / (n - 1))`` (nominal period for a one-sample packet): the format
  carries one period per packet, so timestamp jitter *inside* a packet is flattened, while every
  packet's first sample keeps its real timestamp.
* :func:`touch_sdk_packets`: Doublepoint Touch SDK ``Update`` messages (float32 values,
  ``deltaTime`` = integer ms between frames, rounded with the rounding error carried forward).

Datasets (see ``../shared/notes/data.md``) are found and read by the command layer
(:mod:`toolkit.cli.replays`, which builds a :class:`SampleSeries` from :mod:`toolkit.data`): this package takes
sample arrays only.

* sp-sw-har (:func:`toolkit.cli.replays.load_sp_sw_har`): ``DATA/sXX/sXX_YY_sw.csv`` with header
  ``x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label``: TicWatch Pro 3 (Wear OS), acc m/s^2
  with gravity (Android sign), gyro rad/s, Android sensor frame, unix ms timestamps, jittery ~100 Hz,
  one activity label per sample. Already in the imu-stream convention: no conversion.
* seglearn watch (:func:`toolkit.cli.replays.load_seglearn`): an Apple Watch, 50 Hz, acc in g with the iOS sign, gyro
  rad/s. Read from the safe ``.npz`` that :mod:`toolkit.data.seglearn` converts once from the PyPI wheel
  (never from the pickled original). Conversion to the imu-stream convention through the
  ``apple-watch`` profile (:mod:`toolkit.device_profiles`): ``acc_si = -9.81 * acc_g`` (iOS/CoreMotion
  reports about -1 g on the upward axis at rest, Android +9.81 m/s^2; both platforms use +X right,
  +Y toward 12 o'clock, +Z out of the screen, so axes and gyro are unchanged).
* generated signals (:func:`generate_sine`, :func:`generate_still`) for tests without data.

Finding recordings (:mod:`toolkit.data.paths`): an explicit ``--data-root``, else ``$MULTI3EDGE_DATA``,
else ``../shared/data`` beside the repository; a missing dataset raises a one-line
:class:`DatasetNotFoundError` saying where it looked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import G_MS2
from toolkit.mount import Mount, mirror_acc, mirror_gyro

from ..protocols import imu_stream, touch_sdk


@dataclass
class SampleSeries:
    """A recording in the imu-stream convention.

    Attributes:
        t_s: (N,) device time of each sample [s] (any epoch, increasing).
        acc: (N, 3) specific force [m/s^2], gravity included, Android sign, device axes.
        gyro: (N, 3) angular rate [rad/s], counter-clockwise positive, device axes (or None).
        rate_hz: nominal sample rate [Hz].
        name: where it came from, e.g. ``"sp-sw-har:s05_03"``.
        labels: (N,) per-sample labels, or None.
        meta: source specific extras.
    """

    t_s: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray | None
    rate_hz: float
    name: str = ""
    labels: np.ndarray | None = None
    meta: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def head(self, n: int) -> SampleSeries:
        """The first ``n`` samples."""
        return SampleSeries(self.t_s[:n], self.acc[:n], None if self.gyro is None else self.gyro[:n], self.rate_hz,
                            self.name, None if self.labels is None else self.labels[:n], dict(self.meta))


# --------------------------------------------------------------------------- generated
def generate_sine(seconds: float = 2.0, rate_hz: float = 100.0, *, freq_hz: float = 1.0, acc_amp: float = 2.0,
                  gyro_amp: float = 1.0, t0_s: float = 0.0, name: str = "sine") -> SampleSeries:
    """Gravity on +Y plus sines on every axis (acc m/s^2 amplitude ``acc_amp``, gyro rad/s ``gyro_amp``)."""
    n = max(2, int(round(seconds * rate_hz)))
    t = t0_s + np.arange(n) / rate_hz
    phase = 2 * math.pi * freq_hz * (t - t0_s)
    shifts = np.array([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    acc = acc_amp * np.sin(phase[:, None] + shifts[None, :])
    acc[:, 1] += G_MS2
    gyro = gyro_amp * np.cos(phase[:, None] + shifts[None, :])
    return SampleSeries(t, acc, gyro, rate_hz, name, meta={"source": "generated"})


def generate_still(seconds: float = 2.0, rate_hz: float = 100.0, *, t0_s: float = 0.0,
                   name: str = "still") -> SampleSeries:
    """A watch lying face up: acc (0, 0, +9.81) m/s^2, gyro zero."""
    n = max(2, int(round(seconds * rate_hz)))
    t = t0_s + np.arange(n) / rate_hz
    acc = np.zeros((n, 3))
    acc[:, 2] = G_MS2
    return SampleSeries(t, acc, np.zeros((n, 3)), rate_hz, name, meta={"source": "generated"})


def _hang_and_forward_left() -> tuple[np.ndarray, np.ndarray]:
    """World-from-watch rotations (3, 3) of a LEFT dorsal watch: arm hanging (palm to the thigh) and arm forward,
    horizontal, palm down (world y-up, +x = the body's left, +z = forward; :mod:`toolkit.frames`)."""
    # columns = the watch's X (toward the hand), Y (12 o'clock), Z (out of the face) in world coordinates
    hang = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # X down, Y back, Z to the left
    forward = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # X forward, Y left, Z up
    return hang, forward


def generate_protocol(rate_hz: float = 100.0, *, hold_s: float = 6.0, move_s: float = 2.0, seed: int = 0,
                      acc_bias_ms2: tuple[float, float, float] = (0.15, -0.10, 0.20),
                      gyro_bias_rads: tuple[float, float, float] = (0.010, -0.020, 0.015),
                      acc_noise_ms2: float = 0.02, gyro_noise_rads: float = 0.003,
                      name: str = "protocol") -> SampleSeries:
    """A LEFT dorsal watch performing the mount-calibration protocol (:mod:`calibration.procedure`).

    Poses: arm hanging ``hold_s``, raised forward (palm down) over ``move_s``, held ``hold_s``, lowered over
    ``move_s``, hanging ``hold_s / 2``. Orientation is interpolated by slerp (smooth-step timing); the reading is
    specific force ``f = R_ws^T (0, +g, 0)`` (the arm's own linear acceleration is left out: the procedure uses
    the still parts only) and the body-frame angular velocity from consecutive orientations, plus a constant
    sensor bias and white noise. Labels: ``hang``, ``move``, ``forward``.
    """
    from scipy.spatial.transform import Rotation, Slerp

    hang, forward = _hang_and_forward_left()
    key = Rotation.from_matrix(np.stack([hang, forward]))
    slerp = Slerp([0.0, 1.0], key)
    plan = [("hang", hold_s, 0.0, 0.0), ("move", move_s, 0.0, 1.0), ("forward", hold_s, 1.0, 1.0),
            ("move", move_s, 1.0, 0.0), ("hang", hold_s / 2, 0.0, 0.0)]
    fracs, labels = [], []
    for label, dur, a, b in plan:
        n = int(round(dur * rate_hz))
        u = np.arange(n) / n
        smooth = u * u * (3 - 2 * u)
        fracs.append(a + (b - a) * smooth)
        labels += [label] * n
    frac = np.concatenate(fracs)
    n = frac.size
    t = np.arange(n) / rate_hz
    rots = slerp(frac)
    up_g = np.array([0.0, G_MS2, 0.0])
    acc = rots.inv().apply(up_g)
    rel = (rots[:-1].inv() * rots[1:]).as_rotvec() * rate_hz  # body-frame rate between samples
    gyro = np.vstack([rel, rel[-1:]])
    gyro[1:-1] = 0.5 * (rel[:-1] + rel[1:])
    rng = np.random.default_rng(seed)
    acc = acc + np.asarray(acc_bias_ms2) + rng.normal(0.0, acc_noise_ms2, (n, 3))
    gyro = gyro + np.asarray(gyro_bias_rads) + rng.normal(0.0, gyro_noise_rads, (n, 3))
    return SampleSeries(t, acc, gyro, rate_hz, name, labels=np.asarray(labels),
                        meta={"source": "generated", "acc_bias_ms2": list(acc_bias_ms2),
                              "gyro_bias_rads": list(gyro_bias_rads)})


def worn(series: SampleSeries, *, wrist: str = "left", face: str = "dorsal", rotation_deg: float = 0.0) -> SampleSeries:
    """What a watch worn differently would have read during the same motion.

    ``series`` is a LEFT dorsal watch (the canonical frame). ``wrist="right"`` mirrors the motion onto the right
    wrist (:func:`toolkit.mount.mirror_acc` / ``mirror_gyro``); ``face`` and ``rotation_deg`` then turn the
    watch about the forearm: the worn watch reads ``R^T v`` with ``R = Mount(...).rotation()``. Undoing it is
    exactly what a :class:`toolkit.mount.Mount` with the same settings does.
    """
    mount = Mount(wrist=wrist, face=face, rotation_deg=rotation_deg)
    acc, gyro = series.acc, series.gyro
    if wrist != "left":
        acc = mirror_acc(acc)
        gyro = None if gyro is None else mirror_gyro(gyro)
    r = mount.rotation()
    acc = acc @ r  # row-wise R^T v
    gyro = None if gyro is None else gyro @ r
    meta = {**series.meta, "worn": mount.to_dict()}
    for key, mirror in (("acc_bias_ms2", mirror_acc), ("gyro_bias_rads", mirror_gyro)):
        if key in meta:  # a generated sensor bias, expressed in the worn device's axes like the samples
            b = np.asarray(meta[key], dtype=np.float64)
            meta[key] = ((mirror(b) if wrist != "left" else b) @ r).tolist()
    return SampleSeries(series.t_s, acc, gyro, series.rate_hz, series.name, series.labels, meta)


def concatenate(parts: list[SampleSeries], gap_s: float = 2.0, name: str = "") -> SampleSeries:
    """Recordings back to back on one device clock, ``gap_s`` of silence between them (longer than the model's
    0.25 s gap limit, so no window spans two recordings)."""
    if not parts:
        raise ConfigError("nothing to concatenate")
    ts, offset = [], 0.0
    for p in parts:
        t = p.t_s - p.t_s[0] + offset
        ts.append(t)
        offset = float(t[-1]) + gap_s
    has_gyro = all(p.gyro is not None for p in parts)
    has_labels = all(p.labels is not None for p in parts)
    return SampleSeries(
        np.concatenate(ts), np.concatenate([p.acc for p in parts]),
        np.concatenate([p.gyro for p in parts]) if has_gyro else None,  # type: ignore[misc]
        float(np.median([p.rate_hz for p in parts])), name or "+".join(p.name for p in parts),
        np.concatenate([p.labels for p in parts]) if has_labels else None,  # type: ignore[misc]
        {"source": "concatenated", "parts": [p.name for p in parts], "gap_s": gap_s,
         "nominal_rate_hz": parts[0].meta.get("nominal_rate_hz", parts[0].rate_hz),
         "starts_s": [float(t[0]) for t in ts]},
    )


# --------------------------------------------------------------------------- encoders
def packet_slices(n: int, samples_per_packet: int) -> list[slice]:
    return [slice(i, min(n, i + samples_per_packet)) for i in range(0, n, samples_per_packet)]


def imu_stream_packets(series: SampleSeries, samples_per_packet: int = 5, *, first_seq: int = 0,
                       restart_first: bool = True) -> Iterator[tuple[float, bytes]]:
    """Encode ``series`` as imu-stream packets; yields ``(t_last_sample_s, packet)`` (see module docstring).

    Device timestamps: ``t0_us = round(t_s[first] * 1e6)`` (u64 when it does not fit u32, e.g. unix
    time), ``period_us`` = the packet's mean spacing. The first packet carries the RESTART flag. LSB sizes:
    ``series.meta["acc_scale"]`` / ``["gyro_scale"]`` when given (raw device values of a ``file:`` replay, any unit),
    else the format's defaults.
    """
    n_ch = 1 + (series.gyro is not None)
    limit = imu_stream.max_samples(n_ch, ts64=True)
    if not 1 <= samples_per_packet <= limit:
        raise ConfigError(f"samples_per_packet must be 1..{limit} for {n_ch} channels, got {samples_per_packet}")
    nominal_us = max(1, int(round(1e6 / series.rate_hz)))
    scales = {f"{ch}_scale": float(series.meta[f"{ch}_scale"]) for ch in ("acc", "gyro")  # type: ignore[arg-type]
              if f"{ch}_scale" in series.meta}
    for k, sl in enumerate(packet_slices(len(series), samples_per_packet)):
        t = series.t_s[sl]
        m = t.shape[0]
        t0_us = int(round(float(t[0]) * 1e6))
        period_us = int(round((float(t[-1]) - float(t[0])) * 1e6 / (m - 1))) if m > 1 else nominal_us
        period_us = max(1, period_us)
        payload = imu_stream.encode_packet(
            first_seq + k, t0_us, period_us, series.acc[sl], None if series.gyro is None else series.gyro[sl],
            restart=restart_first and k == 0, **scales)
        yield float(t[-1]), payload


def touch_sdk_packets(series: SampleSeries, frames_per_update: int = 5) -> Iterator[tuple[float, bytes]]:
    """Encode ``series`` as Touch SDK ``Update`` messages of ``frames_per_update`` SensorFrames.

    ``deltaTime`` of frame i = ms since frame i-1 (integer; the first frame 0), rounded so that the
    running sum stays within 0.5 ms of the real timestamps. Gravity (``grav``) is not emulated.
    """
    if frames_per_update < 1:
        raise ConfigError("frames_per_update must be >= 1")
    t_ms = np.round((series.t_s - series.t_s[0]) * 1e3).astype(np.int64)
    dts = np.diff(t_ms, prepend=t_ms[0])
    gyro = series.gyro if series.gyro is not None else np.zeros_like(series.acc)
    for sl in packet_slices(len(series), frames_per_update):
        payload = touch_sdk.encode_update(series.acc[sl], gyro[sl], dts[sl],
                                          update_delta_time_ms=int(dts[sl].sum()))
        yield float(series.t_s[sl][-1]), payload


__all__ = [
    "SampleSeries",
    "concatenate",
    "generate_protocol",
    "generate_sine",
    "generate_still",
    "imu_stream_packets",
    "touch_sdk_packets",
    "worn",
]
