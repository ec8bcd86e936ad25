"""Training-time domain randomisation of synthetic wrist windows toward real watches (seeded, per window).

Applied to raw windows (N, L, 6) = [acc m/s^2 (3), gyro rad/s (3)] in the watch frame (:mod:`toolkit.frames`:
+X 3 o'clock = along the forearm, toward the hand on the left wrist; +Y 12 o'clock; +Z out of the face), before
normalisation, in this order:

1. **mirror** (``mirror_right``): the right wrist is mapped into the canonical left-wrist frame exactly as the real
   loaders and calibration do (:func:`toolkit.mount.mirror_acc` ``(-x, y, z)``, :func:`~toolkit.mount.
   mirror_gyro` ``(x, -y, -z)``), so both wrists can feed one left-frame encoder. Deterministic (not random).
2. **orientation jitter** (``twist_deg``, ``tilt_deg``): a random rotation of the sensor frame on the wrist, one per
   window and wrist: a twist about the forearm axis (watch +X) uniform in +-``twist_deg`` (a loose strap turns
   about the forearm), then tilts about +Y and +Z uniform in +-``tilt_deg``. Specific force and angular velocity
   are both rotated (``v' = R^T v``), so |acc| and |gyro| are unchanged.
3. **device** (``devices``): one of the named :mod:`toolkit.sim.devices` profiles per window (uniformly): a constant
   bias per axis N(0, ``*_bias_sd``^2), white noise of the profile's density over the model's Nyquist band
   (sd ``noise_density * sqrt(rate / 2)``), saturation at +-range, quantisation to the LSB; a profile without a
   gyroscope (``empatica-e4``) gives NaN gyro channels (0 after standardisation, as real E4 windows).
4. **channel dropout** (``channel_dropout``): with this probability per window, the gyroscope channels are dropped
   (NaN, i.e. 0 = the normalised mean after standardisation, exactly what
   :func:`toolkit.train.data.classifier_inputs` gives a device without gyroscope), so the pretrained encoder also
   serves accelerometer-only devices (:mod:`toolkit.train.channels`). Off by default (the committed default model
   was pretrained without it).

Everything is a pure function of the input and a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from toolkit.errors import ConfigError
from toolkit.mount import mirror_acc, mirror_gyro
from toolkit.sim.devices import DeviceProfile, get_profile


@dataclass(frozen=True)
class AugmentConfig:
    """Which randomisations run (module docstring); the defaults do nothing."""

    mirror_right: bool = False  #: mirror the right wrist into the left-wrist frame (one left-frame encoder)
    twist_deg: float = 0.0  #: max rotation about the forearm axis (watch +X) [deg]
    tilt_deg: float = 0.0  #: max rotation about watch +Y and +Z [deg]
    devices: tuple[str, ...] = ()  #: device profiles drawn per window, e.g. ("wear-os-watch", "apple-watch")
    channel_dropout: float = 0.0  #: probability of dropping a window's gyroscope (NaN -> 0 after standardisation)

    def __post_init__(self) -> None:
        for k in ("twist_deg", "tilt_deg"):
            v = getattr(self, k)
            if not isinstance(v, int | float) or isinstance(v, bool) or not (0 <= v <= 180):
                raise ConfigError(f"augment.{k} must be a number in [0, 180] degrees, got {v!r}")
        p = self.channel_dropout
        if not isinstance(p, int | float) or isinstance(p, bool) or not (0 <= p <= 1):
            raise ConfigError(f"augment.channel_dropout must be a probability in [0, 1], got {p!r}")
        if not isinstance(self.mirror_right, bool):
            raise ConfigError(f"augment.mirror_right must be true or false, got {self.mirror_right!r}")
        for d in self.devices:
            get_profile(d)  # ConfigError for an unknown name

    @property
    def active(self) -> bool:
        """True when any randomisation (not the deterministic mirror) is on."""
        return bool(self.twist_deg or self.tilt_deg or self.devices or self.channel_dropout)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AugmentConfig:
        """From a config mapping (unknown keys -> ConfigError)."""
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"augment: unknown keys {unknown} (known: {', '.join(f.name for f in fields(cls))})")
        if "devices" in data:
            devs = data["devices"]
            data["devices"] = (devs,) if isinstance(devs, str) else tuple(devs or ())
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "devices": list(self.devices)}


def mirror_windows(x: np.ndarray) -> np.ndarray:
    """(..., 6) [acc, gyro] of one wrist -> the mirrored wrist's (the calibration mirror; a copy)."""
    return np.concatenate([mirror_acc(x[..., :3]), mirror_gyro(x[..., 3:])], axis=-1)


def random_rotations(n: int, rng: np.random.Generator, twist_deg: float, tilt_deg: float) -> np.ndarray:
    """(n, 3, 3) sensor-frame rotations: twist about +X in +-twist_deg, then tilts about +Y, +Z in +-tilt_deg."""
    twist = rng.uniform(-1.0, 1.0, n) * np.deg2rad(twist_deg)
    tilt = rng.uniform(-1.0, 1.0, (n, 2)) * np.deg2rad(tilt_deg)
    rx = Rotation.from_rotvec(np.stack([twist, np.zeros(n), np.zeros(n)], axis=1))
    ryz = Rotation.from_rotvec(np.stack([np.zeros(n), tilt[:, 0], tilt[:, 1]], axis=1))
    return (rx * ryz).as_matrix()


def rotate_windows(x: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(N, L, 6) windows seen by sensors rotated by (N, 3, 3) ``rot`` (``v' = R^T v`` for acc and gyro)."""
    acc = np.einsum("nji,nlj->nli", rot, x[..., :3])
    gyro = np.einsum("nji,nlj->nli", rot, x[..., 3:])
    return np.concatenate([acc, gyro], axis=-1).astype(x.dtype, copy=False)


def device_effects(x: np.ndarray, profile: DeviceProfile, rng: np.random.Generator, rate_hz: float) -> np.ndarray:
    """(N, L, 6) ideal windows at ``rate_hz`` -> as ``profile`` would measure them (module docstring, step 3)."""
    n, length = x.shape[:2]
    out = x.astype(np.float64, copy=True)
    bw = np.sqrt(rate_hz / 2.0)
    for sl, bias_sd, dens, rng_max, lsb in (
        (slice(0, 3), profile.acc_bias_sd_ms2, profile.acc_noise_density, profile.acc_range_ms2,
         profile.acc_resolution_ms2),
        (slice(3, 6), profile.gyro_bias_sd_rads, profile.gyro_noise_density, profile.gyro_range_rads,
         profile.gyro_resolution_rads),
    ):  # fmt: skip
        part = out[..., sl]
        if bias_sd:
            part += rng.normal(0.0, bias_sd, (n, 1, 3))
        if dens:
            part += rng.normal(0.0, dens * bw, (n, length, 3))
        if rng_max:
            np.clip(part, -rng_max, rng_max, out=part)
        if lsb:
            part[:] = np.round(part / lsb) * lsb
    if not profile.has_gyro:
        out[..., 3:] = np.nan
    return out.astype(x.dtype, copy=False)


class Augmenter:
    """Applies an :class:`AugmentConfig` to batches of raw windows at ``rate_hz``."""

    def __init__(self, cfg: AugmentConfig, rate_hz: float):
        self.cfg = cfg
        self.rate_hz = float(rate_hz)
        self.profiles = [get_profile(d) for d in cfg.devices]

    def wrist(self, x: np.ndarray, rng: np.random.Generator, right: bool = False) -> np.ndarray:
        """(N, L, 6) windows of one wrist -> augmented copy (mirrored first when ``right`` and mirror_right)."""
        if right and self.cfg.mirror_right:
            x = mirror_windows(x)
        if self.cfg.twist_deg or self.cfg.tilt_deg:
            x = rotate_windows(x, random_rotations(len(x), rng, self.cfg.twist_deg, self.cfg.tilt_deg))
        if self.profiles:
            which = rng.integers(0, len(self.profiles), len(x))
            x = x.copy()
            for k, prof in enumerate(self.profiles):
                sel = which == k
                if sel.any():
                    x[sel] = device_effects(x[sel], prof, rng, self.rate_hz)
        if self.cfg.channel_dropout:
            drop = rng.random(len(x)) < self.cfg.channel_dropout
            if drop.any():
                x = x.copy()
                x[drop, :, 3:] = np.nan
        return x


__all__ = ["AugmentConfig", "Augmenter", "device_effects", "mirror_windows", "random_rotations", "rotate_windows"]
