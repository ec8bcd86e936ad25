"""Where motion enters the toolkit: one function that loads any supported motion file.

========  ==========================================  ===========================================
suffix    format                                      loader
========  ==========================================  ===========================================
.bvh      Biovision hierarchy (any humanoid)          :func:`toolkit.sim.loaders.bvh.load_bvh`
.amc      Acclaim motion + its skeleton ``.asf``      :func:`toolkit.sim.loaders.asfamc.load_asf_amc`
.npz      AMASS-style SMPL / SMPL-H parameters        :func:`toolkit.sim.loaders.amass.load_amass`
.yaml     keyframe motion script (joint angles)       :func:`toolkit.sim.loaders.keyframes.load_keyframes`
========  ==========================================  ===========================================

Every loader returns a canonical :class:`toolkit.sim.motion.Motion`: y up, metres, feet centred at
the origin at the first frame, height-normalised, resampled. A clip's text description comes from
a CMU-style ``index.tsv`` beside (or above) the file when none is given. How a BVH skeleton is read
(length unit, up axis, a joint map for unusual names) is set by
:class:`toolkit.sim.loaders.retarget.RetargetOptions` (``edge-simulate --units/--up-axis/--joint-map``).
"""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import InputFileError
from toolkit.sim.loaders.amass import load_amass
from toolkit.sim.loaders.asfamc import load_asf_amc
from toolkit.sim.loaders.bvh import load_bvh
from toolkit.sim.loaders.descriptions import describe_clip
from toolkit.sim.loaders.keyframes import SUFFIXES as KEYFRAME_SUFFIXES
from toolkit.sim.loaders.keyframes import load_keyframes
from toolkit.sim.loaders.retarget import RetargetOptions
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion

MOTION_SUFFIXES = (".bvh", ".amc", ".npz", *KEYFRAME_SUFFIXES)


def find_asf(amc_path: Path) -> Path:
    """The skeleton file of an AMC clip: ``SS.asf`` for ``SS_TT.amc``, else the only ``.asf`` beside it."""
    subject = amc_path.stem.split("_")[0]
    candidate = amc_path.with_name(f"{subject}.asf")
    if candidate.is_file():
        return candidate
    asfs = sorted(amc_path.parent.glob("*.asf"))
    if len(asfs) == 1:
        return asfs[0]
    raise InputFileError(amc_path, f"no skeleton file: expected {candidate.name} (or a single .asf) beside it")


def load_motion(
    path: str | Path,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    name: str | None = None,
    text: str | None = None,
    options: RetargetOptions | None = None,
) -> Motion:
    """Load and normalise a motion file of any supported format (see the module docstring).

    ``options`` (units, up axis, joint map) apply to BVH files; ASF/AMC and AMASS fix their own.
    """

    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "file not found")
    suffix = p.suffix.lower()
    if text is None:
        text = describe_clip(p)
    name = name or p.stem
    if suffix == ".bvh":

        return load_bvh(p, height_m=height_m, rate_hz=rate_hz, text=text, name=name, options=options)
    if suffix == ".amc":

        return load_asf_amc(find_asf(p), p, height_m=height_m, rate_hz=rate_hz, text=text, name=name)
    if suffix == ".npz":

        return load_amass(p, height_m=height_m, rate_hz=rate_hz, text=text, name=name)
    if suffix in KEYFRAME_SUFFIXES:
        return load_keyframes(p, height_m=height_m, rate_hz=rate_hz, text=text, name=name)
    raise InputFileError(p, f"unknown motion format {suffix!r}; expected one of {', '.join(MOTION_SUFFIXES)}")
