"""Device response models: what a real wearable makes of the ideal IMU signals.

The simulator (:mod:`toolkit.sim.imu`) produces *ideal* specific force and angular velocity in SI
units and the Android sign convention of :mod:`toolkit.frames` (at rest +9.81 m/s^2 on the up
axis). :func:`apply_device` turns those into what one physical device would record, in this order:

1. **Resampling** to the device's output rate with :func:`scipy.signal.resample_poly` (polyphase
   FIR of scipy's default design: Kaiser window beta 5, half-length ``10 * max(up, down)`` taps at
   the upsampled rate, cut-off at the lower of the two Nyquist frequencies). The ratio is a
   rational approximation ``up/down`` of ``device_rate / sim_rate`` (denominator <= 1000; exact
   for integer rates), and the rate reported is ``sim_rate * up / down``. resample_poly
   compensates the filter's group delay: output sample ``k`` is at time ``k / rate``, input sample
   0 at time 0 (no delay). Each channel's mean is removed before filtering and added back after,
   so a constant (gravity at rest) comes out exact; without this the polyphase branches' slightly
   different DC gains put a ripple of ~0.06 % of the DC level (6 mm/s^2 on 9.81 m/s^2 at 60->100
   Hz) on the output. Edges: the signal is extended beyond both ends along the line through its
   first and last samples (``padtype="line"``) instead of zeros, so nothing droops toward 0; a
   transient remains within one filter half-length of each end, ``10 * max(up, down) / (up *
   sim_rate)`` s (0.17 s at 60->100 Hz, 0.31 s at 60->32 Hz), where the signal is not that line.
   Motion band-limited below the new Nyquist frequency is reproduced to ~0.1 % of its amplitude
   (the passband reaches -0.7 dB at 0.9 x Nyquist, -6 dB at Nyquist); content above is
   attenuated (-22 dB at 1.1 x, -55 dB at 1.2 x Nyquist): the anti-aliasing.
2. **Misalignment**: one small fixed rotation per placement (rotation vector drawn from
   N(0, ``misalignment_sd_rad``^2) per component), shared by the accelerometer and the gyroscope
   (one package): ``measured = R_mis @ ideal``. Non-orthogonal axes (cross-axis sensitivity) are
   not modelled.
3. **Bias**: a constant turn-on bias per placement and axis, N(0, ``*_bias_sd``^2), plus a bias
   random walk that starts at 0 and has standard deviation ``*_bias_walk * sqrt(t)`` at time ``t``.
4. **White noise** with standard deviation ``noise_density * sqrt(rate / 2)`` per sample (noise
   density over the Nyquist bandwidth, the datasheets' "RMS noise related to BW = ODR/2").
5. **Saturation**: clipping to +-range.
6. **Quantisation** to the LSB size: ``round(x / lsb) * lsb``, codes limited to ``+-floor(range /
   lsb)`` so the result stays within range.

Each step is skipped when its parameter is zero/None, so the ``ideal`` profile is the identity,
bit for bit. Random draws come from one :class:`numpy.random.Generator` in a fixed order, so a
seed reproduces the output exactly.

Two versions come out: SI in the simulator's convention (``acc`` [m/s^2], ``gyro`` [rad/s]) with
all imperfections applied, and the device-native version (``acc_device`` in the device's units and
sign, ``gyro_device``). :func:`to_device_units` / :func:`from_device_units` convert between them
(exact inverses up to one rounding). ``g`` means :data:`toolkit.frames.G_MS2` = 9.81 m/s^2 here.

Profiles (:data:`PROFILES`; sources and assumptions)
    ``ideal``
        No resampling, noise, bias, range or quantisation; SI, Android sign. What the Multi3Net+
        paper trains on. The default.
    ``wear-os-watch``
        Galaxy Watch / TicWatch class Wear OS watch. 100 Hz: the TicWatch Pro 3 recordings of
        ``sp-sw-har`` (Matey-Sanz et al. 2023) run at a median 100.0 Hz. +-8 g, 16 bit
        (0.244 mg/LSB) and +-2000 dps, 16 bit (70 mdps/LSB): both LSB sizes are the smallest
        steps found in those recordings (0.002395 m/s^2 and 0.0012217 rad/s) and are ST's
        LSM6DS* sensitivities at these full scales (LSM6DSO DS12140: "1 LSb = 70 mdps at +-2000 dps
        full scale", 0.061 mg at +-2 g). Noise densities of the ST LSM6DSL (DocID028475 Rev 7,
        Table 3, high-performance mode): acceleration 90 ug/sqrt(Hz) at FS +-8 g, rate
        4 mdps/sqrt(Hz) (the LSM6DSO lists 3.8 mdps/sqrt(Hz)). The gyroscope's white noise
        (0.028 dps rms at 100 Hz) is then below its 70 mdps LSB: the output only toggles between
        neighbouring codes, as a real watch's does at this full scale.
    ``apple-watch``
        50 Hz like the Apple Watch recordings of the seglearn ``watch`` dataset (SPAR); acc in g
        with the iOS sign (CoreMotion reads -1 g on the up axis at rest), gyro in rad/s (same sign
        as Android: counter-clockwise positive). +-16 g is an assumption (Apple states up to 32 g
        for Series 4 and later); +-2000 dps is consistent with the seglearn data (peak 28.96 rad/s
        = 1659 dps). No quantisation: CoreMotion delivers calibrated floating-point values and the
        seglearn recordings show no LSB grid (221,103 distinct ``ax`` values). Apple does not
        publish its IMU; the noise densities are the LSM6DSL's (130 ug/sqrt(Hz) at +-16 g,
        4 mdps/sqrt(Hz)) as an assumption.
    ``empatica-e4``
        32 Hz, +-2 g, no gyroscope (Empatica support, "How is the acceleration data formatted in
        E4 connect": range [-2 g, 2 g], unit 1/64 g, "a value of x = 64 is in practice 1g"; the raw
        counts of ``ACC.csv`` are ``acc_device * 64``). Resolution 1/64 g. Sign: assumed
        Android-like (+64 counts on the up axis at rest), because a MEMS accelerometer's raw output
        is specific force ("the Z-axis will measure 1 g" flat on a table, ST datasheets) and
        Empatica documents no sign flip; check against a real E4 recording before relying on it.
        The accelerometer part is unpublished: noise density 150 ug/sqrt(Hz) is an assumption (it
        is invisible next to the 15.6 mg LSB anyway).
    ``android-phone``
        A phone in a pocket, as in the ``sp-sw-har`` phone recordings: ~100 Hz (median 100-111 Hz
        there), +-8 g at 0.244 mg/LSB and +-1000 dps at 35 mdps/LSB (the smallest steps found in
        those recordings, 0.00239 m/s^2 and 6.108e-4 rad/s, an ST LSM6DS* part at these full
        scales); noise densities of the LSM6DSL as for the watch.

    Biases and walks (all profiles but ``ideal``) are assumptions of the right order, not
    datasheet values: turn-on acc bias sd 0.1 m/s^2 (~10 mg; 0.2 m/s^2 for the uncalibrated E4),
    gyro bias sd 0.5 dps (LSM6DS* zero-rate level is +-1 dps typ. before the OS's bias
    compensation), bias walks 1e-3 m/s^2/sqrt(s) and 2e-5 rad/s/sqrt(s) (the order of the EuRoC /
    Kalibr ADIS16448 example values 3e-3 m/s^3/sqrt(Hz) and 1.9e-5 rad/s^2/sqrt(Hz)),
    misalignment sd 0.01 rad (~0.6 deg, the order of a 1 % cross-axis sensitivity).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import G_MS2

# unit names, signs and conversions: the one table in toolkit.units (re-exported here)
from toolkit.units import ACC_SIGNS, ACC_UNITS, CHANNELS, GYRO_UNITS, from_device_units, to_device_units  # noqa: F401
from toolkit.versioned import versioned_fields

#: Version of the ``to_dict`` layout of :class:`DeviceProfile` (and of device manifests).
SCHEMA_VERSION = 1
#: Largest denominator of the rational resampling ratio.
MAX_RESAMPLE_DENOMINATOR = 1000
#: Largest misalignment standard deviation accepted [rad]: the model is a small-angle one.
MAX_MISALIGNMENT_SD_RAD = 0.5

_FLOAT_FIELDS_NONNEG = (
    "acc_resolution_ms2",
    "gyro_resolution_rads",
    "acc_noise_density",
    "gyro_noise_density",
    "acc_bias_sd_ms2",
    "gyro_bias_sd_rads",
    "acc_bias_walk",
    "gyro_bias_walk",
    "misalignment_sd_rad",
)
_FLOAT_FIELDS_POSITIVE_OR_NONE = ("rate_hz", "acc_range_ms2", "gyro_range_rads")


@dataclass(frozen=True)
class DeviceProfile:
    """How one kind of device measures, and how it reports.

    Attributes:
        name: profile name (a key of :data:`PROFILES` for the built-in ones).
        rate_hz: output rate [Hz]; None keeps the simulation's rate.
        acc_range_ms2: accelerometer full scale, +-range [m/s^2]; None = no saturation.
        has_gyro: whether the device has a gyroscope channel.
        gyro_range_rads: gyroscope full scale, +-range [rad/s]; None = no saturation.
        acc_resolution_ms2: accelerometer LSB size [m/s^2]; 0 = no quantisation.
        gyro_resolution_rads: gyroscope LSB size [rad/s]; 0 = no quantisation.
        acc_noise_density: accelerometer white-noise density [m/s^2/sqrt(Hz)].
        gyro_noise_density: gyroscope white-noise density [rad/s/sqrt(Hz)].
        acc_bias_sd_ms2: sd of the constant turn-on accelerometer bias, per instance [m/s^2].
        gyro_bias_sd_rads: sd of the constant turn-on gyroscope bias, per instance [rad/s].
        acc_bias_walk: accelerometer bias random walk [m/s^2/sqrt(s)].
        gyro_bias_walk: gyroscope bias random walk [rad/s/sqrt(s)].
        misalignment_sd_rad: sd of each component of the fixed misalignment rotation vector [rad].
        acc_units: "m/s^2" or "g" (g = :data:`toolkit.frames.G_MS2`).
        acc_sign: "android" (specific force, +1 g up at rest) or "ios" (opposite, CoreMotion).
        gyro_units: "rad/s" or "deg/s".
        description: one line for listings and manifests.
    """

    name: str
    rate_hz: float | None = None
    acc_range_ms2: float | None = None
    has_gyro: bool = True
    gyro_range_rads: float | None = None
    acc_resolution_ms2: float = 0.0
    gyro_resolution_rads: float = 0.0
    acc_noise_density: float = 0.0
    gyro_noise_density: float = 0.0
    acc_bias_sd_ms2: float = 0.0
    gyro_bias_sd_rads: float = 0.0
    acc_bias_walk: float = 0.0
    gyro_bias_walk: float = 0.0
    misalignment_sd_rad: float = 0.0
    acc_units: str = "m/s^2"
    acc_sign: str = "android"
    gyro_units: str = "rad/s"
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"device profile: name must be a non-empty string (got {self.name!r})")
        where = f"device profile {self.name!r}"
        for key in _FLOAT_FIELDS_POSITIVE_OR_NONE:
            value = getattr(self, key)
            if value is None:
                continue
            v = _as_float(value, where, key)
            if v <= 0:
                raise ConfigError(f"{where}: {key} must be > 0 or None (got {value!r})")
            object.__setattr__(self, key, v)
        for key in _FLOAT_FIELDS_NONNEG:
            v = _as_float(getattr(self, key), where, key)
            if v < 0:
                raise ConfigError(f"{where}: {key} must be >= 0 (got {getattr(self, key)!r})")
            object.__setattr__(self, key, v)
        if self.misalignment_sd_rad > MAX_MISALIGNMENT_SD_RAD:
            raise ConfigError(
                f"{where}: misalignment_sd_rad must be <= {MAX_MISALIGNMENT_SD_RAD} rad, a small-angle model "
                f"(got {self.misalignment_sd_rad!r})"
            )
        if not isinstance(self.has_gyro, bool | np.bool_):
            raise ConfigError(f"{where}: has_gyro must be true or false (got {self.has_gyro!r})")
        object.__setattr__(self, "has_gyro", bool(self.has_gyro))
        for key, allowed in (("acc_units", ACC_UNITS), ("acc_sign", ACC_SIGNS), ("gyro_units", GYRO_UNITS)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{where}: unknown {key} {getattr(self, key)!r} (known: {', '.join(allowed)})")
        for res, rng_key in (("acc_resolution_ms2", "acc_range_ms2"), ("gyro_resolution_rads", "gyro_range_rads")):
            lsb, full = getattr(self, res), getattr(self, rng_key)
            if lsb > 0 and full is not None and lsb >= full:
                raise ConfigError(f"{where}: {res} ({lsb!r}) must be smaller than {rng_key} ({full!r})")
        if not isinstance(self.description, str):
            raise ConfigError(f"{where}: description must be a string (got {self.description!r})")

    @property
    def is_ideal(self) -> bool:
        """True when :func:`apply_device` returns its inputs unchanged: the simulation's rate, no
        noise, bias, misalignment, range or quantisation, SI units and the Android sign."""
        return (
            self.rate_hz is None
            and self.acc_range_ms2 is None
            and self.gyro_range_rads is None
            and self.has_gyro
            and all(getattr(self, k) == 0.0 for k in _FLOAT_FIELDS_NONNEG)
            and (self.acc_units, self.acc_sign, self.gyro_units) == ("m/s^2", "android", "rad/s")
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"schema": 1``; :meth:`from_dict` reads it back."""
        return {"schema": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceProfile:
        """Profile from :meth:`to_dict`'s output. Missing fields take the ideal defaults.

        Raises:
            ConfigError: not a dict, an unknown schema version, unknown keys or bad values.
        """
        return cls(**versioned_fields(data, "device profile", SCHEMA_VERSION, (f.name for f in fields(cls)),
                                      required=("name",), missing_schema=SCHEMA_VERSION))


def _as_float(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{where}: {key} must be a number (got {value!r})")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{where}: {key} must be finite (got {value!r})")
    return v


def _dps(v: float) -> float:
    """Degrees per second to rad/s."""
    return math.radians(v)


_UG = 1e-6 * G_MS2  # one micro-g in m/s^2
_BIAS_WALK_ACC = 1e-3  # m/s^2/sqrt(s)
_BIAS_WALK_GYRO = 2e-5  # rad/s/sqrt(s)
_MISALIGN = 0.01  # rad

#: Built-in device profiles by name (see the module docstring for the sources).
PROFILES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        DeviceProfile(
            name="ideal",
            description="ideal IMU: simulation rate, no noise, bias, range or quantisation; SI, Android sign",
        ),
        DeviceProfile(
            name="wear-os-watch",
            rate_hz=100.0,
            acc_range_ms2=8 * G_MS2,
            gyro_range_rads=_dps(2000.0),
            acc_resolution_ms2=16 * G_MS2 / 65536,  # 0.244 mg/LSB (16 bit over +-8 g)
            gyro_resolution_rads=_dps(0.070),  # 70 mdps/LSB at +-2000 dps (LSM6DSO DS12140)
            acc_noise_density=90 * _UG,  # LSM6DSL DocID028475 Rev 7 Table 3: An = 90 ug/sqrt(Hz) at FS +-8 g
            gyro_noise_density=_dps(0.004),  # LSM6DSL Table 3: Rn = 4 mdps/sqrt(Hz) (LSM6DSO: 3.8)
            acc_bias_sd_ms2=0.1,
            gyro_bias_sd_rads=_dps(0.5),
            acc_bias_walk=_BIAS_WALK_ACC,
            gyro_bias_walk=_BIAS_WALK_GYRO,
            misalignment_sd_rad=_MISALIGN,
            description="Wear OS watch (TicWatch/Galaxy Watch class): 100 Hz, +-8 g, +-2000 dps, 16 bit, m/s^2",
        ),
        DeviceProfile(
            name="apple-watch",
            rate_hz=50.0,
            acc_range_ms2=16 * G_MS2,
            gyro_range_rads=_dps(2000.0),
            acc_noise_density=130 * _UG,  # LSM6DSL Table 3: An = 130 ug/sqrt(Hz) at FS +-16 g (assumed part class)
            gyro_noise_density=_dps(0.004),  # LSM6DSL Table 3: Rn = 4 mdps/sqrt(Hz) (assumed part class)
            acc_bias_sd_ms2=0.1,
            gyro_bias_sd_rads=_dps(0.5),
            acc_bias_walk=_BIAS_WALK_ACC,
            gyro_bias_walk=_BIAS_WALK_GYRO,
            misalignment_sd_rad=_MISALIGN,
            acc_units="g",
            acc_sign="ios",
            description="Apple Watch via CoreMotion: 50 Hz, acc in g with the iOS sign (-1 g up at rest), rad/s",
        ),
        DeviceProfile(
            name="empatica-e4",
            rate_hz=32.0,
            acc_range_ms2=2 * G_MS2,
            has_gyro=False,
            acc_resolution_ms2=G_MS2 / 64,  # 1/64 g: ACC.csv counts, 64 = 1 g
            acc_noise_density=150 * _UG,  # assumption: the E4's accelerometer part is unpublished
            acc_bias_sd_ms2=0.2,
            acc_bias_walk=_BIAS_WALK_ACC,
            misalignment_sd_rad=_MISALIGN,
            acc_units="g",
            acc_sign="android",
            description="Empatica E4: 32 Hz, +-2 g, 1/64 g steps (ACC.csv counts / 64), no gyroscope",
        ),
        DeviceProfile(
            name="android-phone",
            rate_hz=100.0,
            acc_range_ms2=8 * G_MS2,
            gyro_range_rads=_dps(1000.0),
            acc_resolution_ms2=16 * G_MS2 / 65536,  # 0.244 mg/LSB
            gyro_resolution_rads=_dps(0.035),  # 35 mdps/LSB at +-1000 dps
            acc_noise_density=90 * _UG,  # LSM6DSL Table 3, FS +-8 g
            gyro_noise_density=_dps(0.004),  # LSM6DSL Table 3
            acc_bias_sd_ms2=0.1,
            gyro_bias_sd_rads=_dps(0.5),
            acc_bias_walk=_BIAS_WALK_ACC,
            gyro_bias_walk=_BIAS_WALK_GYRO,
            misalignment_sd_rad=_MISALIGN,
            description="Android phone: 100 Hz, +-8 g, +-1000 dps, 16 bit, m/s^2",
        ),
    )
}

#: Name of the default profile.
DEFAULT_PROFILE = "ideal"


def get_profile(name: str) -> DeviceProfile:
    """The built-in profile called ``name``.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown device profile {name!r} (known: {', '.join(PROFILES)})") from None


# --------------------------------------------------------------------------------------------------
# Resampling


def resample_ratio(
    rate_hz: float, target_hz: float, max_denominator: int = MAX_RESAMPLE_DENOMINATOR
) -> tuple[int, int]:
    """``(up, down)`` with ``up / down`` ~ ``target_hz / rate_hz`` (exact for integer rates)."""
    for key, v in (("rate_hz", rate_hz), ("target_hz", target_hz)):
        if not (isinstance(v, int | float | np.integer | np.floating) and math.isfinite(v) and v > 0):
            raise ConfigError(f"resampling: {key} must be a positive finite number (got {v!r})")
    frac = Fraction(target_hz / rate_hz).limit_denominator(max_denominator)
    if frac.numerator == 0:
        raise ConfigError(f"resampling: cannot go from {rate_hz} Hz to {target_hz} Hz (ratio too small)")
    return frac.numerator, frac.denominator


def resample_to_rate(x: np.ndarray, rate_hz: float, target_hz: float, axis: int = 0) -> tuple[np.ndarray, float]:
    """Resample ``x`` along ``axis`` from ``rate_hz`` to (about) ``target_hz``, anti-aliased.

    Polyphase FIR (:func:`scipy.signal.resample_poly`, default Kaiser design, ``padtype="line"``,
    each channel's mean removed before and restored after so that constants stay exact; see the
    module docstring for delay and edge effects). Output length ``ceil(n * up / down)``.

    Returns:
        The resampled float64 array, and the rate actually reached, ``rate_hz * up / down`` [Hz].
        When the ratio is 1 the input comes back as a float64 copy, unfiltered.

    Raises:
        ConfigError: a non-positive rate, or fewer than 2 samples to resample.
    """
    up, down = resample_ratio(rate_hz, target_hz)
    x = np.asarray(x, dtype=np.float64)
    if up == down:
        return x.copy(), float(rate_hz)
    if x.shape[axis] < 2:
        raise ConfigError(f"resampling: need at least 2 samples, got {x.shape[axis]}")
    mean = x.mean(axis=axis, keepdims=True)
    from scipy.signal import resample_poly  # imported on use: ~0.3 s of start-up the ideal device never needs

    y = resample_poly(x - mean, up, down, axis=axis, padtype="line") + mean
    return np.ascontiguousarray(y, dtype=np.float64), float(rate_hz) * up / down


# --------------------------------------------------------------------------------------------------
# Device simulation


@dataclass
class DeviceInstance:
    """The per-instance parameters drawn for one device on P placements (for the manifest).

    Attributes:
        acc_bias_ms2: (P, 3) constant accelerometer bias [m/s^2], simulator convention.
        gyro_bias_rads: (P, 3) constant gyroscope bias [rad/s]; None without a gyroscope channel.
        misalignment_rotvec_rad: (P, 3) rotation vectors of the misalignment ``R_mis`` [rad].
        seed: the integer seed :func:`apply_device` was given, if it was given one.
    """

    acc_bias_ms2: np.ndarray
    gyro_bias_rads: np.ndarray | None
    misalignment_rotvec_rad: np.ndarray
    seed: int | None = None

    def misalignment_matrices(self) -> np.ndarray:
        """(P, 3, 3) misalignment rotations ``R_mis`` (measured = R_mis @ ideal)."""
        from scipy.spatial.transform import Rotation  # on use: scipy.spatial costs ~0.25 s of start-up

        return Rotation.from_rotvec(self.misalignment_rotvec_rad).as_matrix().reshape(-1, 3, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "acc_bias_ms2": self.acc_bias_ms2.tolist(),
            "gyro_bias_rads": None if self.gyro_bias_rads is None else self.gyro_bias_rads.tolist(),
            "misalignment_rotvec_rad": self.misalignment_rotvec_rad.tolist(),
            "seed": self.seed,
        }


@dataclass
class DeviceSignals:
    """What one device instance records.

    Attributes:
        acc: (T', P, 3) specific force [m/s^2], simulator convention (Android sign), imperfections
            applied.
        gyro: (T', P, 3) angular velocity [rad/s], imperfections applied; None without a gyroscope
            channel (or when no gyroscope input was given).
        acc_device: (T', P, 3) acc in the device's units and sign.
        gyro_device: (T', P, 3) gyro in the device's units; None as ``gyro``.
        rate_hz: output rate [Hz] (``sim_rate * up / down``).
        profile: the profile used.
        instance: the drawn per-instance parameters.
        resample: ``(up, down)`` of the polyphase resampling ((1, 1) when none).
    """

    acc: np.ndarray
    gyro: np.ndarray | None
    acc_device: np.ndarray
    gyro_device: np.ndarray | None
    rate_hz: float
    profile: DeviceProfile
    instance: DeviceInstance
    resample: tuple[int, int] = (1, 1)

    @property
    def params(self) -> dict[str, Any]:
        """The drawn per-instance parameters, JSON-ready (``instance.to_dict()``)."""
        return self.instance.to_dict()

    def to_manifest(self) -> dict[str, Any]:
        """JSON-ready description (profile, rate, resampling ratio, drawn parameters)."""
        return {
            "schema": SCHEMA_VERSION,
            "profile": self.profile.to_dict(),
            "rate_hz": self.rate_hz,
            "resample_up_down": list(self.resample),
            "num_frames": int(self.acc.shape[0]),
            "instance": self.instance.to_dict(),
        }


def _check_signal(x: np.ndarray, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ConfigError(f"apply_device: {what} must have shape (T, P, 3), got {x.shape}")
    if shape is not None and x.shape != shape:
        raise ConfigError(f"apply_device: {what} has shape {x.shape}, acc has {shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ConfigError(f"apply_device: {what} is empty (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"apply_device: {what} contains NaN or infinite values")
    return x


def _saturate_quantise(x: np.ndarray, full_scale: float | None, lsb: float) -> np.ndarray:
    """Clip to +-full_scale, then round to multiples of ``lsb`` (codes kept within range)."""
    if full_scale is not None:
        np.clip(x, -full_scale, full_scale, out=x)
    if lsb > 0:
        codes = np.round(x / lsb)
        if full_scale is not None:
            max_code = math.floor(full_scale / lsb * (1 + 1e-12))
            np.clip(codes, -max_code, max_code, out=codes)
        x = codes * lsb
    return x


def _channel(
    x: np.ndarray,
    rot: np.ndarray | None,
    bias: np.ndarray,
    walk: float,
    density: float,
    full_scale: float | None,
    lsb: float,
    rate_hz: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Steps 2-6 of the module docstring on one channel (T, P, 3); returns a new array."""
    x = x.copy()
    if rot is not None:
        x = np.einsum("pij,tpj->tpi", rot, x)
    if np.any(bias != 0.0):
        x += bias[None]
    if walk > 0:
        steps = rng.standard_normal(x.shape) * (walk / math.sqrt(rate_hz))
        steps[0] = 0.0  # the walk starts at 0 at t = 0: sd(t) = walk * sqrt(t)
        x += np.cumsum(steps, axis=0)
    if density > 0:
        x += rng.standard_normal(x.shape) * (density * math.sqrt(rate_hz / 2.0))
    return _saturate_quantise(x, full_scale, lsb)


def apply_device(
    acc: np.ndarray,
    gyro: np.ndarray | None,
    rate_hz: float,
    profile: DeviceProfile | str = DEFAULT_PROFILE,
    rng: np.random.Generator | int | None = None,
) -> DeviceSignals:
    """What a device of kind ``profile`` records when worn where the simulated placements are.

    Args:
        acc: (T, P, 3) ideal specific force [m/s^2], simulator convention (Android sign).
        gyro: (T, P, 3) ideal angular velocity [rad/s], or None.
        rate_hz: the simulation's rate [Hz].
        profile: a :class:`DeviceProfile` or the name of a built-in one.
        rng: a Generator, or a seed for :func:`numpy.random.default_rng`. Same seed, same output.

    Returns:
        :class:`DeviceSignals` with SI and device-native signals at the device's rate; one device
        instance per placement (its own bias and misalignment).

    Raises:
        ConfigError: bad shapes, non-finite values, a bad rate or an unknown profile name.
    """
    if isinstance(profile, str):
        profile = get_profile(profile)
    if not isinstance(profile, DeviceProfile):
        raise ConfigError(f"apply_device: profile must be a DeviceProfile or a name, got {type(profile).__name__}")
    acc = _check_signal(acc, "acc")
    gyro_in = None if gyro is None else _check_signal(gyro, "gyro", acc.shape)
    if not isinstance(rate_hz, int | float | np.integer | np.floating) or not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ConfigError(f"apply_device: rate_hz must be a positive finite number (got {rate_hz!r})")
    seed = int(rng) if isinstance(rng, int | np.integer) else None
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    use_gyro = profile.has_gyro and gyro_in is not None

    # 1. resampling (acc and gyro through the same filter)
    up, down = (1, 1)
    out_rate = float(rate_hz)
    if profile.rate_hz is not None:
        up, down = resample_ratio(rate_hz, profile.rate_hz)
        if up != down:
            acc, out_rate = resample_to_rate(acc, rate_hz, profile.rate_hz)
            if use_gyro:
                gyro_in, _ = resample_to_rate(gyro_in, rate_hz, profile.rate_hz)
        else:
            up, down = (1, 1)
    num_p = acc.shape[1]

    # per-instance draws, in a fixed order
    rotvec = np.zeros((num_p, 3))
    if profile.misalignment_sd_rad > 0:
        rotvec = rng.standard_normal((num_p, 3)) * profile.misalignment_sd_rad
    acc_bias = np.zeros((num_p, 3))
    if profile.acc_bias_sd_ms2 > 0:
        acc_bias = rng.standard_normal((num_p, 3)) * profile.acc_bias_sd_ms2
    gyro_bias = None
    if profile.has_gyro:
        gyro_bias = np.zeros((num_p, 3))
        if profile.gyro_bias_sd_rads > 0:
            gyro_bias = rng.standard_normal((num_p, 3)) * profile.gyro_bias_sd_rads
    instance = DeviceInstance(acc_bias, gyro_bias, rotvec, seed)
    rot = instance.misalignment_matrices() if profile.misalignment_sd_rad > 0 else None

    # 2-6 per channel
    acc_out = _channel(
        acc, rot, acc_bias, profile.acc_bias_walk, profile.acc_noise_density,
        profile.acc_range_ms2, profile.acc_resolution_ms2, out_rate, rng,
    )  # fmt: skip
    gyro_out = None
    if use_gyro:
        gyro_out = _channel(
            gyro_in, rot, gyro_bias, profile.gyro_bias_walk, profile.gyro_noise_density,
            profile.gyro_range_rads, profile.gyro_resolution_rads, out_rate, rng,
        )  # fmt: skip
    return DeviceSignals(
        acc=acc_out,
        gyro=gyro_out,
        acc_device=to_device_units(acc_out, profile, "acc"),
        gyro_device=None if gyro_out is None else to_device_units(gyro_out, profile, "gyro"),
        rate_hz=out_rate,
        profile=profile,
        instance=instance,
        resample=(up, down),
    )
