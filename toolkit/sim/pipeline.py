"""The simulation pipeline: motion files in, a synthetic dataset folder out.

For each motion file: load and normalise it (:func:`toolkit.sim.sources.load_motion`), draw
``variants`` bodies (:mod:`toolkit.sim.augment`), resolve the named and sampled placements on each
body, synthesise ideal IMU signals (:mod:`toolkit.sim.imu`), apply the device model
(:mod:`toolkit.sim.devices`) and write one ``.npz`` per variant (:mod:`toolkit.sim.dataset`).

Randomness is reproducible: every file gets its own generator seeded from ``(seed, sha256 of the
file)``, so a clip's output does not depend on the other files of the run or on the number of
worker processes.

A batch survives bad files: a file that cannot be simulated (a :class:`Multi3EdgeError`, or any
other exception inside its worker) is reported through ``on_skip`` and listed in the manifest under
``skipped`` with its reason; the other files are written and listed as usual. Workers are started
once per run (``initializer``), at most ``2 * workers`` files are in flight at a time, and results
stream back as they finish (a bounded queue, whatever the number of files).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from toolkit import __version__
from toolkit.errors import ConfigError, InputFileError, Multi3EdgeError
from toolkit.sim.augment import attribute_variants
from toolkit.sim.body import BodyModel, BuiltinBody, HumanAttributes
from toolkit.sim.dataset import MANIFEST_NAME, ClipRecord, StreamingNpz, sha256_file, write_manifest
from toolkit.sim.devices import apply_device, get_profile
from toolkit.sim.imu import DEFAULT_BANDWIDTH_HZ, check_bandwidth, play, scaled_root, synthesize
from toolkit.sim.loaders.descriptions import clip_texts
from toolkit.sim.loaders.retarget import RetargetOptions
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.placements import DEFAULT_PLACEMENTS, Placement, site_spec
from toolkit.sim.rotations import quat_log
from toolkit.sim.skeleton import NUM_JOINTS, SEGMENT_INDEX
from toolkit.sim.sources import load_motion

_CHUNK = 4096  # frames per chunk of the axis-angle conversion (cache-sized)


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
        acc_bandwidth_hz: -3 dB bandwidth of the accelerometer and gyroscope [Hz]
            (:mod:`toolkit.sim.imu`; default 15 Hz from the literature on human activity).
        body_model: an SMPL / SMPL-H / SMPL-X model file or folder; None = the built-in body.
            With a model, variant 0 has betas = 0 and variant k > 0 draws ``num_betas`` betas
            from N(0, 1) clipped to +-2 (its shape space replaces the built-in attributes).
        gender: model gender, used to find the file in a folder.
        num_betas: shape coefficients drawn per SMPL variant.
        units: source length unit of BVH files (``auto`` = from the body height; ``m``, ``cm``,
            ``mm``, ``inch``); see :class:`toolkit.sim.loaders.retarget.RetargetOptions`.
        up_axis: source up axis of BVH files (``auto`` = from the skeleton; ``y``, ``z``, ``-z``, ...).
        joint_map: YAML file ``source joint: SMPL joint`` for skeletons the name matching misses.
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
    acc_bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ
    body_model: str | None = None
    gender: str = "neutral"
    num_betas: int = 10
    units: str = "auto"
    up_axis: str = "auto"
    joint_map: str | None = None
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for any invalid setting (before any work starts)."""
        if not (1.0 <= self.rate_hz <= 2000.0):
            raise ConfigError(f"rate must be within 1-2000 Hz, got {self.rate_hz}")
        check_bandwidth(self.rate_hz, self.acc_bandwidth_hz)
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
        self.retarget_options().validate()
        if self.body_model is not None:
            make_body_factory(self)(0, HumanAttributes(), np.random.default_rng(0))  # loads and checks the file


    def retarget_options(self) -> RetargetOptions:
        """How source skeletons are read (units, up axis, joint map)."""
        return RetargetOptions(units=self.units, up_axis=self.up_axis, joint_map=self.joint_map)


def make_body_factory(config: SimulationConfig):
    """``f(variant, attributes, rng) -> BodyModel`` for the run's body model."""
    if config.body_model is None:
        return lambda _k, attrs, _rng: BuiltinBody(attrs)
    from toolkit.sim.smpl_body import SMPLBody  # delays torch and smplx (SMPL sources only)

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
    from scipy.spatial.transform import Rotation, Slerp  # on use: scipy.spatial costs ~0.25 s of start-up

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
    out_dir: str | Path | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> list[ClipRecord]:
    """Simulate every attribute variant of one canonical motion.

    Args:
        motion: canonical motion at ``config.rate_hz``.
        config: the run's settings.
        rng: this clip's random generator.
        body_factory: ``f(variant, attributes, rng) -> BodyModel``; default from ``config``.
        out_dir: if given, each variant's file is written there while it is computed (the joint
            positions and the pose first, by a background thread, while the IMU signals are
            synthesised); the records come back with ``saved`` set.
        extra_arrays: arrays added to every variant's record (e.g. ``texts``).

    Returns:
        One :class:`ClipRecord` per variant.
    """
    make_body = body_factory or make_body_factory(config)
    profile = get_profile(config.device)
    with ThreadPoolExecutor(max_workers=1) as helper:  # numpy releases the GIL: a second core takes the pose
        pose_future = helper.submit(axis_angles, motion.local_quat)
        out = Path(out_dir) if out_dir is not None else None
        return _simulate_variants(motion, config, rng, make_body, profile, pose_future, out, extra_arrays or {})


def axis_angles(local_quat: np.ndarray) -> np.ndarray:
    """(T, 24, 3) float32 axis-angle [rad] (angle in [0, pi]) of (T, 24, 4) local rotations.

    Stored as float32, so computed in float32 (within a few float32 ulp of the float64 result),
    in cache-sized chunks (no (T, 24, ...) temporaries).
    """
    pose = np.empty(local_quat.shape[:-1] + (3,), dtype=np.float32)
    for s in range(0, local_quat.shape[0], _CHUNK):
        pose[s : s + _CHUNK] = quat_log(local_quat[s : s + _CHUNK].astype(np.float32))
    return pose


def _simulate_variants(
    motion: Motion,
    config: SimulationConfig,
    rng: np.random.Generator,
    make_body,
    profile,
    pose_future: Future,
    out_dir: Path | None,
    extra_arrays: dict[str, np.ndarray],
) -> list[ClipRecord]:
    """The variant loop of :func:`simulate_motion` (``pose_future`` yields the clip's axis-angle pose)."""
    records = []
    for k, attrs in enumerate(attribute_variants(config.variants, rng, height_m=config.height_m)):
        body = make_body(k, attrs, rng)
        placements = resolve_placements(body, config, rng)
        file_name = f"{motion.name}_v{k}.npz"
        joints = np.empty((motion.num_frames, NUM_JOINTS, 3), dtype=np.float32)  # world positions [m]
        pos, quat = play(motion, body, placements, joints_out=joints)
        writer = StreamingNpz(out_dir / file_name) if out_dir is not None else None
        try:
            if writer is not None:  # the big arrays are final: written while the signals are computed
                writer.add("joints", joints)
                writer.add("pose", pose_future.result())
            arrays = _variant_arrays(motion, config, rng, profile, k, body, placements, pos, quat)
            arrays.update(joints=joints, pose=pose_future.result(), **extra_arrays)
            if writer is not None:
                for key, value in arrays.items():
                    if key not in ("joints", "pose"):
                        writer.add(key, value)
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        records.append(ClipRecord(arrays, file_name, saved=writer is not None))
    return records


def _variant_arrays(
    motion: Motion,
    config: SimulationConfig,
    rng: np.random.Generator,
    profile,
    k: int,
    body: BodyModel,
    placements: list[Placement],
    pos: np.ndarray,
    quat_ws: np.ndarray,
) -> dict[str, np.ndarray]:
    """A variant's signals (ideal IMU, then the device model) and descriptions, as dataset arrays."""
    acc, gyro_ideal = synthesize(pos, quat_ws, motion.rate_hz, config.acc_bandwidth_hz)
    dev = apply_device(acc, gyro_ideal, motion.rate_hz, profile, rng)
    n_out = dev.acc.shape[0]
    quat = quat_ws if n_out == acc.shape[0] else _resample_quat(quat_ws, motion.rate_hz, dev.rate_hz, n_out)
    gyro = dev.gyro if dev.gyro is not None else np.full_like(dev.acc, np.nan)
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
    return arrays


def clip_rng(seed: int, file_sha256: str) -> np.random.Generator:
    """The random generator of one source file: seeded by the run seed and the file's content."""
    return np.random.default_rng([int(seed), int(file_sha256[:16], 16)])


def simulate_file(path: str, config: SimulationConfig, out_dir: str, clip_name: str) -> dict:
    """Load, simulate and write one motion file; returns its manifest entries (run in workers)."""

    if Path(path).is_dir():
        raise InputFileError(path, "is a folder, not a motion file (give the files in it, e.g. DIR/*.bvh)")
    if not Path(path).is_file():
        raise InputFileError(path, "file not found")
    with ThreadPoolExecutor(max_workers=1) as hasher:  # hashing releases the GIL: it overlaps the loading
        sha_future = hasher.submit(sha256_file, path)
        motion = load_motion(
            path, height_m=config.height_m, rate_hz=config.rate_hz, name=clip_name, options=config.retarget_options()
        )
        sha = sha_future.result()
    texts = [t for t in dict.fromkeys([motion.text, *clip_texts(path)]) if t]  # the main text first
    extra = {"texts": np.array(texts)} if texts else {}
    records = simulate_motion(motion, config, clip_rng(config.seed, sha), out_dir=out_dir, extra_arrays=extra)
    clips = []
    for rec in records:
        if not rec.saved:
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
                "texts": texts,
                "body": json.loads(str(a["attributes_json"])),
            }
        )
    return {"source": {"path": str(path), "sha256": sha, "clip": clip_name}, "clips": clips}


def _progress_bar(total: int, progress: bool):
    """A tqdm bar on stderr when it is a terminal (tqdm is imported only then: start-up time)."""
    if not progress or not os.isatty(2):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="simulating", unit="file")


def unique_clip_names(paths: list[str]) -> list[str]:
    """File stems, made unique with a numeric suffix where two files share a stem."""
    names, seen = [], {}
    for p in paths:
        stem = Path(p).stem
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(stem if n == 0 else f"{stem}-{n}")
    return names


def _describe_failure(e: BaseException) -> str:
    """One line for a file that could not be simulated."""
    if isinstance(e, Multi3EdgeError):
        return str(e)
    return f"internal error: {type(e).__name__}: {e}"


def try_simulate_file(path: str, config: SimulationConfig, out_dir: str, clip_name: str) -> dict:
    """:func:`simulate_file`, with a failure returned as ``{"skipped": {"path", "problem"}}`` instead of raised.

    Set ``MULTI3EDGE_DEBUG=1`` to let unexpected exceptions (bugs) propagate with their traceback.
    """
    try:
        return simulate_file(path, config, out_dir, clip_name)
    except MemoryError:
        return {"skipped": {"path": str(path), "problem": "out of memory"}}
    except Exception as e:  # noqa: BLE001 - one bad file must not end the batch
        if os.environ.get("MULTI3EDGE_DEBUG") and not isinstance(e, Multi3EdgeError):
            raise
        problem = e.problem if isinstance(e, InputFileError) and e.path == str(path) else _describe_failure(e)
        return {"skipped": {"path": str(path), "problem": problem}}


_WORKER: dict = {}


def _init_worker(config: SimulationConfig, out_dir: str) -> None:
    """Worker initialiser: receives the run's settings once (not once per file)."""
    _WORKER["config"], _WORKER["out_dir"] = config, out_dir


def _worker_task(path: str, clip_name: str) -> dict:
    return try_simulate_file(path, _WORKER["config"], _WORKER["out_dir"], clip_name)


def _run_pool(
    jobs: list[tuple[str, str]], config: SimulationConfig, out_dir: str, workers: int
) -> Iterator[tuple[int, dict]]:
    """Yield ``(job index, result)`` as workers finish, with at most ``2 * workers`` jobs in flight."""
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(config, out_dir)) as pool:
        pending: dict[Future, int] = {}
        queue = iter(enumerate(jobs))
        for i, job in queue:
            pending[pool.submit(_worker_task, *job)] = i
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_worker_task, *nxt[1])] = nxt[0]


def prepare_output(out: Path, overwrite: bool) -> None:
    """Create ``out``; refuse a non-empty folder unless ``overwrite`` (then drop its old manifest)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"--out {out}: folder exists and is not empty; give --overwrite to write into it")
        (out / MANIFEST_NAME).unlink(missing_ok=True)  # no stale manifest if this run stops half-way
    out.mkdir(parents=True, exist_ok=True)


def simulate_files(
    paths: list[str],
    out_dir: str | Path,
    config: SimulationConfig,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    on_skip: Callable[[str, str], None] | None = None,
) -> dict:
    """Simulate every motion file into ``out_dir`` and write its manifest.

    Args:
        paths: motion files (.bvh, .amc, .npz).
        out_dir: output folder (created; an existing non-empty one needs ``overwrite``).
        config: settings.
        workers: worker processes (1 = in this process).
        progress: show a progress bar on stderr (only on a terminal).
        overwrite: write into an existing non-empty folder (files of the same name are replaced).
        on_skip: called with ``(path, problem)`` as soon as a file fails; it is skipped.

    Returns:
        The manifest written to ``out_dir/manifest.json``; ``manifest["skipped"]`` lists the files
        that failed with their reasons.

    Raises:
        ConfigError: bad settings or output folder (before any work).
        Multi3EdgeError: no file could be simulated (nothing is written); with one file, its error.
    """
    config.validate()
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not paths:
        raise ConfigError("no motion files given")
    out = Path(out_dir)
    prepare_output(out, overwrite)
    names = unique_clip_names(paths)
    jobs = list(zip([str(p) for p in paths], names, strict=True))
    start = time.perf_counter()
    results: list[dict | None] = [None] * len(paths)
    skipped: list[tuple[int, dict]] = []
    bar = _progress_bar(len(paths), progress)
    try:
        if workers == 1 or len(paths) == 1:
            stream = ((i, try_simulate_file(p, config, str(out), n)) for i, (p, n) in enumerate(jobs))
        else:
            stream = _run_pool(jobs, config, str(out), min(workers, len(paths)))
        for i, res in stream:
            if "skipped" in res:
                skipped.append((i, res["skipped"]))
                if on_skip is not None and len(paths) > 1:  # a single file's failure is raised instead
                    on_skip(res["skipped"]["path"], res["skipped"]["problem"])
            else:
                results[i] = res
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    if len(skipped) == len(paths):
        if len(paths) == 1:
            raise InputFileError(skipped[0][1]["path"], skipped[0][1]["problem"])
        raise Multi3EdgeError(f"none of the {len(paths)} files could be simulated; nothing written to {out}")
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
        "skipped": [entry for _, entry in sorted(skipped, key=lambda s: s[0])],
        "workers": workers,
        "cpu_count": os.cpu_count(),
    }
    write_manifest(out, manifest)
    return manifest
