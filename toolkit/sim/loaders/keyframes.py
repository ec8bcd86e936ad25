"""Keyframe motion scripts (``.yaml``) -> canonical :class:`Motion`: motions nobody captured, written as joint angles.

A research team whose activities are not in any motion-capture corpus (shoulder rehabilitation exercises, standing
up from a chair) can describe one repetition of each as a few key poses. The loader plays the repetition over and
over for ``duration_s``, each repetition with its own tempo and amplitude, plus slow joint jitter, keeps the feet
on the ground, and hands the result to :func:`toolkit.sim.canonical.canonicalize` like any other loader. The
simulator then turns it into IMU data exactly as it does motion capture.

File format (schema 1)::

    schema: 1
    name: shoulder-abduction
    texts: ["a person raises the arm sideways to shoulder height and lowers it", ...]   # >= 1
    cycle_s: 4.0             # seconds per repetition at tempo 1
    duration_s: 90.0         # length of the clip
    symmetric: true          # every left_* joint also drives its right_* twin, mirrored (default false)
    vary: {tempo: 0.25, amplitude: 0.15, jitter_deg: 3.0}   # (defaults) tempo/amplitude factors ~ U(1 +- v)
    seed: 0                  # randomisation seed (default 0)
    joints:                  # rotation axes per joint, applied in this order (extrinsic, in the parent's frame)
      left_shoulder: zx
      left_elbow: y
    keyframes:               # phase in [0, 1) of a repetition -> one angle [deg] per axis of each joint
      - {phase: 0.0, left_shoulder: [-80, 0], left_elbow: [-10]}
      - {phase: 0.5, left_shoulder: [0, 0]}

Angles are relative to the rest pose of :mod:`toolkit.sim.skeleton` (SMPL T-pose: arms along +-x, palms down,
facing +z, y up). For example ``left_shoulder: z -80`` lowers the left arm to the side, ``left_elbow: y -90``
bends the forearm forward, ``left_hip: x -90`` lifts the thigh forward, ``spine1: x 20`` leans the trunk
forward. A joint missing from a keyframe is interpolated from the keyframes that name it (periodic cubic
spline over the repetition); joints named nowhere hold :data:`NEUTRAL` (standing, arms hanging). Mirroring
(``symmetric``) reflects a rotation in the body's sagittal plane: angles about x are kept, about y and z negated.

Amplitude scales each joint's excursion from its phase-0 pose; tempo stretches the repetition; both change
smoothly from one repetition to the next. Feet: the root is placed so that the mean horizontal position of the
ankles stays put and the lower ankle stays at its standing height (motions in place: exercises, sitting down).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from toolkit.errors import InputFileError
from toolkit.frames import UP_AXIS
from toolkit.sim.canonical import canonicalize, reference_body
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.skeleton import JOINT_INDEX, NUM_JOINTS

SCHEMA = 1
SUFFIXES = (".yaml", ".yml")
MAX_SCRIPT_BYTES = 1_000_000  #: larger files are refused before parsing
GEN_RATE_HZ = 60.0  #: rate the script is played at before canonicalisation [Hz]
#: Standing with the arms hanging at the sides, palms toward the thighs, elbows slightly bent.
NEUTRAL: dict[str, tuple[str, tuple[float, ...]]] = {
    "left_shoulder": ("z", (-78.0,)),
    "right_shoulder": ("z", (78.0,)),
    "left_elbow": ("y", (-12.0,)),
    "right_elbow": ("y", (12.0,)),
}
_KEYS = {"schema", "name", "texts", "cycle_s", "duration_s", "symmetric", "vary", "seed", "joints", "keyframes"}
_VARY = {"tempo": 0.25, "amplitude": 0.15, "jitter_deg": 3.0}
_MIRROR_SIGN = {"x": 1.0, "y": -1.0, "z": -1.0}
_ANKLES = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])


def read_script(path: str | Path) -> dict[str, Any]:
    """The validated script as a dict (module docstring); one-line :class:`InputFileError` naming the key."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SCRIPT_BYTES:
            raise InputFileError(p, f"larger than {MAX_SCRIPT_BYTES // 1000} kB: not a keyframe script")
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputFileError(p, f"not a readable YAML keyframe script ({type(e).__name__})") from None
    if not isinstance(doc, dict):
        raise InputFileError(p, "a keyframe script must be a mapping (see toolkit/sim/loaders/keyframes.py)")
    unknown = set(doc) - _KEYS
    if unknown:
        raise InputFileError(p, f"unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    if doc.get("schema") != SCHEMA:
        raise InputFileError(p, f"schema must be {SCHEMA}, got {doc.get('schema')!r}")
    texts = doc.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise InputFileError(p, "texts must be a non-empty list of sentences")
    for key, lo, hi in (("cycle_s", 0.2, 60.0), ("duration_s", 1.0, 3600.0)):
        v = doc.get(key)
        if not isinstance(v, int | float) or isinstance(v, bool) or not (lo <= v <= hi):
            raise InputFileError(p, f"{key} must be a number of seconds in [{lo}, {hi}], got {v!r}")
    vary = dict(_VARY)
    vary_in = doc.get("vary") or {}
    if not isinstance(vary_in, dict) or set(vary_in) - set(_VARY):
        raise InputFileError(p, f"vary takes {sorted(_VARY)}, got {vary_in!r}")
    for k, v in vary_in.items():
        if not isinstance(v, int | float) or isinstance(v, bool) or not (0 <= v <= (0.9 if k != "jitter_deg" else 30)):
            raise InputFileError(p, f"vary.{k} out of range: {v!r}")
        vary[k] = float(v)
    joints = doc.get("joints")
    if not isinstance(joints, dict) or not joints:
        raise InputFileError(p, "joints must map joint names to rotation axes, e.g. {left_shoulder: zx}")
    for j, axes in joints.items():
        if j not in JOINT_INDEX:
            raise InputFileError(p, f"unknown joint {j!r}; joints are those of toolkit/sim/skeleton.py")
        if not isinstance(axes, str) or not axes or set(axes) - set("xyz"):
            raise InputFileError(p, f"joints.{j}: axes must be letters x/y/z, e.g. 'zx', got {axes!r}")
    frames = doc.get("keyframes")
    if not isinstance(frames, list) or not frames:
        raise InputFileError(p, "keyframes must be a non-empty list")
    for i, kf in enumerate(frames):
        if not isinstance(kf, dict) or not isinstance(kf.get("phase"), int | float) or not (0 <= kf["phase"] < 1):
            raise InputFileError(p, f"keyframes[{i}]: needs phase in [0, 1)")
        for j, ang in kf.items():
            if j == "phase":
                continue
            if j not in joints:
                raise InputFileError(p, f"keyframes[{i}]: joint {j!r} is not listed under joints")
            if (not isinstance(ang, list) or len(ang) != len(joints[j])
                    or not all(isinstance(a, int | float) and np.isfinite(a) for a in ang)):  # fmt: skip
                raise InputFileError(p, f"keyframes[{i}].{j}: needs {len(joints[j])} angle(s) in degrees ({joints[j]})")
    for j in joints:
        phases = [kf["phase"] for kf in frames if j in kf]
        if not phases:
            raise InputFileError(p, f"joint {j!r} has no keyframe")
        if len(set(phases)) != len(phases):
            raise InputFileError(p, f"joint {j!r} has two keyframes at the same phase")
    sym = doc.get("symmetric", False)
    if not isinstance(sym, bool):
        raise InputFileError(p, f"symmetric must be true or false, got {sym!r}")
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputFileError(p, f"seed must be an integer, got {seed!r}")
    name = doc.get("name", p.stem)
    return {"name": str(name), "texts": [t.strip() for t in texts], "cycle_s": float(doc["cycle_s"]),
            "duration_s": float(doc["duration_s"]), "symmetric": sym, "vary": vary, "seed": seed,
            "joints": dict(joints), "keyframes": frames}  # fmt: skip


def script_texts(path: str | Path) -> list[str]:
    """The script's sentences (the first is the clip's main description)."""
    return list(read_script(path)["texts"])


def _joint_curves(script: dict[str, Any]) -> dict[str, tuple[str, CubicSpline, np.ndarray]]:
    """joint -> (axes, periodic spline of the angles [deg] over phase in [0, 1], angles at phase 0)."""
    curves = {}
    for j, axes in script["joints"].items():
        pts = sorted((float(kf["phase"]), [float(a) for a in kf[j]]) for kf in script["keyframes"] if j in kf)
        ph = np.array([p for p, _ in pts] + [pts[0][0] + 1.0])
        ang = np.array([a for _, a in pts] + [pts[0][1]])
        if len(pts) == 1:
            ph, ang = np.array([0.0, 0.5, 1.0]), np.repeat(ang[:1], 3, axis=0)
        spline = CubicSpline(ph, ang, axis=0, bc_type="periodic")
        curves[j] = (axes, spline, spline(0.0))  # periodic: defined at any phase, also before the first keyframe
    return curves


def _smooth_factors(rng: np.random.Generator, n_cycles: int, spread: float) -> CubicSpline:
    """A factor per repetition ~ U(1 - spread, 1 + spread), cubic between repetitions (a smooth function of cycle)."""
    vals = 1.0 + rng.uniform(-spread, spread, n_cycles + 2)
    return CubicSpline(np.arange(-1, n_cycles + 1, dtype=float), vals)


def _jitter(rng: np.random.Generator, t: np.ndarray, n: int, amp_deg: float) -> np.ndarray:
    """(T, n) slow joint-angle noise [deg]: 3 sinusoids per angle between 0.05 and 0.5 Hz, rms ~ amp_deg."""
    if amp_deg <= 0:
        return np.zeros((t.size, n))
    f = rng.uniform(0.05, 0.5, (3, n))
    ph = rng.uniform(0, 2 * np.pi, (3, n))
    return amp_deg * np.sqrt(2 / 3) * np.sin(2 * np.pi * f[None] * t[:, None, None] + ph[None]).sum(axis=1)


def _rotation(axes: str, angles_deg: np.ndarray) -> np.ndarray:
    """(T, 4) quaternions (x, y, z, w) of extrinsic rotations about ``axes`` in order, angles (T, len(axes))."""
    return Rotation.from_euler(axes, angles_deg, degrees=True).as_quat()


def play_script(script: dict[str, Any], height_m: float = DEFAULT_HEIGHT_M) -> Motion:
    """The raw motion (``GEN_RATE_HZ``, y up, metres, reference body of ``height_m``) of a validated script."""
    rng = np.random.default_rng(script["seed"])
    vary, cycle_s = script["vary"], script["cycle_s"]
    n = int(round(script["duration_s"] * GEN_RATE_HZ))
    t = np.arange(n) / GEN_RATE_HZ
    n_cycles = int(np.ceil(script["duration_s"] / (cycle_s * (1 - vary["tempo"])))) + 2
    tempo = _smooth_factors(rng, n_cycles, vary["tempo"])
    amp = _smooth_factors(rng, n_cycles, vary["amplitude"])
    cycles = np.zeros(n)  # repetitions done at each frame: d(cycles)/dt = tempo(cycles) / cycle_s
    for i in range(1, n):
        cycles[i] = cycles[i - 1] + max(0.1, float(tempo(cycles[i - 1]))) / (cycle_s * GEN_RATE_HZ)
    phase = cycles % 1.0
    scale = np.clip(amp(cycles), 0.0, None)[:, None]  # the cubic may overshoot: never a negative excursion

    quat = np.zeros((n, NUM_JOINTS, 4))
    quat[..., 3] = 1.0
    specs: dict[str, tuple[str, np.ndarray]] = {j: (ax, np.tile(a, (n, 1))) for j, (ax, a) in NEUTRAL.items()}
    for j, (axes, spline, start) in _joint_curves(script).items():
        ang = start + scale * (spline(phase) - start)
        specs[j] = (axes, ang)
        twin = "right_" + j[5:] if j.startswith("left_") else None
        if script["symmetric"] and twin and twin not in script["joints"]:
            specs[twin] = (axes, ang * np.array([_MIRROR_SIGN[a] for a in axes]))
    for j, (axes, ang) in specs.items():
        ang = ang + _jitter(rng, t, len(axes), vary["jitter_deg"])
        quat[:, JOINT_INDEX[j]] = _rotation(axes, ang)

    body = reference_body(height_m)
    rest = body.rest_joints
    pose = forward_kinematics(rest, quat, np.zeros((n, 3)), joints=list(_ANKLES))
    cols = [pose.joints.index(j) for j in _ANKLES]
    ankles = pose.pos[:, cols]  # (T, 2, 3) relative to the root
    root = -ankles.mean(axis=1)
    root[:, UP_AXIS] = rest[_ANKLES[0], UP_AXIS] - ankles[..., UP_AXIS].min(axis=1)
    return Motion(rate_hz=GEN_RATE_HZ, root_pos=root, local_quat=quat, text=script["texts"][0],
                  name=script["name"], height_m=height_m)  # fmt: skip


def load_keyframes(
    path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str | None = None,
) -> Motion:
    """Load a keyframe script (module docstring) as a canonical :class:`Motion`.

    Raises:
        InputFileError: a malformed script (one line naming the key).
    """
    p = Path(path)
    script = read_script(p)
    raw = play_script(script, height_m)
    raw.text = text or script["texts"][0]
    raw.source = str(p)
    raw.name = name or script["name"]
    return canonicalize(raw, scale=1.0, height_m=height_m, rate_hz=rate_hz, consume=True)
