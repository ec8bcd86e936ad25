"""Motion-capture loaders (BVH, ASF/AMC, AMASS) and retargeting onto the SMPL joint tree."""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

#: Public name -> the module that defines it. Loaded on first use (PEP 562): importing one module of this package
#: does not import the others (nor their optional dependencies).
_PUBLIC = {
    "load_bvh": "toolkit.sim.loaders.bvh",
    "load_asf_amc": "toolkit.sim.loaders.asfamc",
    "load_amass": "toolkit.sim.loaders.amass",
    "JointMap": "toolkit.sim.loaders.retarget",
    "RetargetOptions": "toolkit.sim.loaders.retarget",
    "SourceMotion": "toolkit.sim.loaders.retarget",
    "retarget": "toolkit.sim.loaders.retarget",
    "clip_texts": "toolkit.sim.loaders.descriptions",
    "describe_clip": "toolkit.sim.loaders.descriptions",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
