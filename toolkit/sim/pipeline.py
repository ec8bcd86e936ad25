"""The simulation pipeline: motion files in, a synthetic dataset folder out.

For each motion file: load and normalise it (:func:`toolkit.sim.sources.load_motion`), draw
``variants`` bodies (:mod:`toolkit.sim.augment`), resolve the named and sampled placements on each
body, synthesise ideal IMU signals (:mod:`toolkit.sim.imu`), apply the device model
(:mod:`toolkit.sim.devices`) and write one ``.npz`` per variant (:mod:`toolkit.sim.dataset`).

Randomness is reproducible: every file gets its own generator seeded from ``(seed, sha256 of the
file)``, so a clip's output does not depend on the other files of the run or on the number of
worker processes.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp
from tqdm import tqdm

from toolkit import __version__
from toolkit.errors import ConfigError
from toolkit.sim.augment import attribute_variants
from toolkit.sim.body import BodyModel, BuiltinBody, HumanAttributes
from toolkit.sim.dataset import ClipRecord, sha256_file, write_manifest
from toolkit.sim.devices import apply_device, get_profile
from toolkit.sim.imu import DEFAULT_WINDOW_S, scaled_root, simulate_imu
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.placements import DEFAULT_PLACEMENTS, Placement, site_spec
from toolkit.sim.skeleton import SEGMENT_INDEX


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of one simulation run (saved in the dataset manifest).

    Attributes:
        rate_hz: simulation rate [Hz] (the device profile may resample afterwards).
        height_m: reference body height motions are normalised to [m].
        placements: named sites (see ``toolkit.sim.placements.NAMED_SITES``).
        surface_samples: number of extra random body-surface placements per variant (AnyMo).
        surface_segments: segments to sample on (None = all but fingers and toes).
        jitter_deg: rotation jitter of sampled placements about their normal [deg].
        variants: bodies per clip; variant 0 is the reference body.
        device: device profile name (``toolkit.sim.devices.PROFILES``).
        seed: random seed.
        window_s: Savitzky-Golay derivative window [s].
        body_model: an SMPL / SMPL-H / SMPL-X model file or folder; None = the built-in body.
            With a model, variant 0 has betas = 0 and variant k > 0 draws ``num_betas`` betas
            from N(0, 1) clipped to +-2 (its shape space replaces the built-in attributes).
        gender: model gender, used to find the file in a folder.
        num_betas: shape coefficients drawn per SMPL variant.
    """

    rate_hz: float = DEFAULT_RATE_HZ
    height_m: float = DEFAULT_HEIGHT_M
    placements: tuple[str, ...] = DEFAULT_PLACEMENTS
    surface_samples: int = 0
    surface_segments: tuple[str, ...] | None = None
    jitter_deg: float = 30.0
    variants: int = 1
    device: str = "ideal"
    seed: int = 0
    window_s: float = DEFAULT_WINDOW_S
    body_model: str | None = None
    gender: str = "neutral"
    num_betas: int = 10
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for any invalid setting (before any work starts)."""
        if not (1.0 <= self.rate_hz <= 2000.0):
            raise ConfigError(f"rate must be within 1-2000 Hz, got {self.rate_hz}")
        if not self.placements and self.surface_samples == 0:
            raise ConfigError("no placements: give --placements and/or --surface-samples")
        for name in self.placements:
            site_spec(name)
        if self.surface_samples < 0:
            raise ConfigError(f"surface samples must be >= 0, got {self.surface_samples}")
        for seg in self.surface_segments or ():
            if seg not in SEGMENT_INDEX:
                raise ConfigError(f"unknown segment {seg!r}; known: {', '.join(SEGMENT_INDEX)}")
        if not (0.0 <= self.jitter_deg <= 180.0):
            raise ConfigError(f"jitter must be within 0-180 deg, got {self.jitter_deg}")
        if self.variants < 1:
            raise ConfigError(f"variants must be >= 1, got {self.variants}")
        get_profile(self.device)
        HumanAttributes(height_m=self.height_m)
        if self.body_model is not None:
            make_body_factory(self)(0, HumanAttributes(), np.random.default_rng(0))  # loads and checks the file


def make_body_factory(config: SimulationConfig):
    """``f(variant, attributes, rng) -> BodyModel`` for the run's body model."""
    if config.body_model is None:
        return lambda _k, attrs, _rng: BuiltinBody(attrs)
    from toolkit.sim.smpl_body import SMPLBody

    def smpl(k: int, _attrs: HumanAttributes, rng: np.random.Generator) -> BodyModel:
        betas = np.zeros(config.num_betas) if k == 0 else np.clip(rng.standard_normal(config.num_betas), -2.0, 2.0)
        return SMPLBody(config.body_model, gender=config.gender, betas=betas)

    return smpl


def resolve_placements(body: BodyModel, config: SimulationConfig, rng: np.random.Generator) -> list[Placement]:
    """Named placements followed by ``surface_samples`` random surface placements on ``body``."""
    placements = [body.named_placement(n) for n in config.placements]
    if config.surface_samples:
        segs = list(config.surface_segments) if config.surface_segments else None
        placements += body.sample_placements(config.surface_samples, rng, segs, config.jitter_deg)
    return placements


def _resample_quat(quat: np.ndarray, rate_in: float, rate_out: float, n_out: int) -> np.ndarray:
    """Slerp (T, P, 4) orientations onto ``n_out`` samples at ``rate_out``."""
    t_in = np.arange(quat.shape[0]) / rate_in
    t_out = np.minimum(np.arange(n_out) / rate_out, t_in[-1])
    out = np.empty((n_out, quat.shape[1], 4))
    for p in range(quat.shape[1]):
        out[:, p] = Slerp(t_in, Rotation.from_quat(quat[:, p]))(t_out).as_quat()
    return out


def simulate_motion(
    motion: Motion,
    config: SimulationConfig,
    rng: np.random.Generator,
    body_factory=None,
) -> list[ClipRecord]:
    """Simulate every attribute variant of one canonical motion.

    Args:
        motion: canonical motion at ``config.rate_hz``.
        config: the run's settings.
        rng: this clip's random generator.
        body_factory: ``f(variant, attributes, rng) -> BodyModel``; default from ``config``.

    Returns:
        One :class:`ClipRecord` per variant.
    """
    make_body = body_factory or make_body_factory(config)
    profile = get_profile(config.device)
    records = []
    for k, attrs in enumerate(attribute_variants(config.variants, rng, height_m=config.height_m)):
        body = make_body(k, attrs, rng)
        placements = resolve_placements(body, config, rng)
        sig = simulate_imu(motion, body, placements, window_s=config.window_s, all_joints=True)
        dev = apply_device(sig.acc, sig.gyro, sig.rate_hz, profile, rng)
        n_out = dev.acc.shape[0]
        quat = sig.quat if n_out == sig.acc.shape[0] else _resample_quat(sig.quat, sig.rate_hz, dev.rate_hz, n_out)
        gyro = dev.gyro if dev.gyro is not None else np.full_like(dev.acc, np.nan)
        pose = Rotation.from_quat(motion.local_quat.reshape(-1, 4)).as_rotvec().reshape(motion.num_frames, 24, 3)
        arrays = {
            "acc": dev.acc.astype(np.float32),
            "gyro": gyro.astype(np.float32),
            "quat": quat.astype(np.float32),
            "placements": np.array([p.name for p in placements]),
            "placement_joint": np.array([p.joint for p in placements], dtype=np.int64),
            "placement_offset": np.stack([p.offset for p in placements]).astype(np.float32),
            "placement_rot": np.stack([p.rot_js for p in placements]).astype(np.float32),
            "rate_hz": np.float64(dev.rate_hz),
            "has_gyro": np.bool_(dev.gyro is not None),
            "joints": sig.pose.pos.astype(np.float32),
            "pose": pose.astype(np.float32),
            "root_pos": scaled_root(motion, body).astype(np.float32),
            "pose_rate_hz": np.float64(motion.rate_hz),
            "text": np.array(motion.text),
            "source": np.array(motion.source),
            "clip": np.array(motion.name),
            "variant": np.int64(k),
            "attributes_json": np.array(json.dumps({**body.describe(), "device_instance": dev.params})),
        }
        if not profile.is_ideal:
            arrays["acc_device"] = dev.acc_device.astype(np.float32)
            if dev.gyro_device is not None:
                arrays["gyro_device"] = dev.gyro_device.astype(np.float32)
        records.append(ClipRecord(arrays, f"{motion.name}_v{k}.npz"))
    return records


def clip_rng(seed: int, file_sha256: str) -> np.random.Generator:
    """The random generator of one source file: seeded by the run seed and the file's content."""
    return np.random.default_rng([int(seed), int(file_sha256[:16], 16)])


def simulate_file(path: str, config: SimulationConfig, out_dir: str, clip_name: str) -> dict:
    """Load, simulate and write one motion file; returns its manifest entries (run in workers)."""
    from toolkit.sim.sources import load_motion  # imported here: loaders are optional per format

    sha = sha256_file(path)
    motion = load_motion(path, height_m=config.height_m, rate_hz=config.rate_hz, name=clip_name)
    records = simulate_motion(motion, config, clip_rng(config.seed, sha))
    clips = []
    for rec in records:
        rec.save(Path(out_dir))
        a = rec.arrays
        clips.append(
            {
                "file": rec.file_name,
                "clip": clip_name,
                "source": str(path),
                "variant": int(a["variant"]),
                "frames": int(a["acc"].shape[0]),
                "duration_s": float((a["acc"].shape[0] - 1) / a["rate_hz"]),
                "text": motion.text,
                "body": json.loads(str(a["attributes_json"])),
            }
        )
    return {"source": {"path": str(path), "sha256": sha, "clip": clip_name}, "clips": clips}


def unique_clip_names(paths: list[str]) -> list[str]:
    """File stems, made unique with a numeric suffix where two files share a stem."""
    names, seen = [], {}
    for p in paths:
        stem = Path(p).stem
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(stem if n == 0 else f"{stem}-{n}")
    return names


def simulate_files(
    paths: list[str],
    out_dir: str | Path,
    config: SimulationConfig,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Simulate every motion file into ``out_dir`` and write its manifest.

    Args:
        paths: motion files (.bvh, .amc, .npz).
        out_dir: output folder (created).
        config: settings.
        workers: worker processes (1 = in this process).
        progress: show a progress bar on stderr.

    Returns:
        The manifest written to ``out_dir/manifest.json``.
    """
    config.validate()
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    for p in paths:
        if not Path(p).is_file():
            raise ConfigError(f"{p}: file not found")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = unique_clip_names(paths)
    start = time.perf_counter()
    results: list[dict | None] = [None] * len(paths)
    # disable=None: shown only on a terminal, so piped output and logs stay clean
    bar = tqdm(total=len(paths), desc="simulating", unit="file", disable=None if progress else True)
    try:
        if workers == 1:
            for i, (p, n) in enumerate(zip(paths, names, strict=True)):
                results[i] = simulate_file(p, config, str(out), n)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {
                    pool.submit(simulate_file, p, config, str(out), n): i
                    for i, (p, n) in enumerate(zip(paths, names, strict=True))
                }
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update()
    finally:
        bar.close()
    profile = get_profile(config.device)
    manifest = {
        "generator": {"name": "multi3edge", "version": __version__, "module": "toolkit.sim.pipeline"},
        "created_unix_s": time.time(),
        "wall_time_s": time.perf_counter() - start,
        "config": asdict(config),
        "rate_hz": profile.rate_hz or config.rate_hz,
        "placements": list(config.placements),
        "surface_samples": config.surface_samples,
        "device_profile": profile.to_dict(),
        "frames": "world y-up, gravity (0,-9.81,0) m/s^2, sensor frames per toolkit.frames; watch frame = Android",
        "units": {"acc": "m/s^2", "gyro": "rad/s", "joints": "m", "pose": "rad (axis-angle)"},
        "sources": [r["source"] for r in results if r],
        "clips": [c for r in results if r for c in r["clips"]],
        "workers": workers,
        "cpu_count": os.cpu_count(),
    }
    write_manifest(out, manifest)
    return manifest
