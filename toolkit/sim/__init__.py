"""The IMU simulator: motion files -> bodies -> placements -> IMU signals -> device response -> datasets."""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

#: Public name -> the module that defines it. Loaded on first use (PEP 562): importing one module of this package
#: does not import the others (nor their optional dependencies).
_PUBLIC = {
    "SimulationConfig": "toolkit.sim.pipeline",
    "simulate_files": "toolkit.sim.pipeline",
    "simulate_file": "toolkit.sim.pipeline",
    "load_motion": "toolkit.sim.sources",
    "read_clip": "toolkit.sim.dataset",
    "read_manifest": "toolkit.sim.dataset",
    "iter_clips": "toolkit.sim.dataset",
    "summarize_clip": "toolkit.sim.dataset",
    "ImuSignals": "toolkit.sim.imu",
    "simulate_imu": "toolkit.sim.imu",
    "BuiltinBody": "toolkit.sim.body",
    "HumanAttributes": "toolkit.sim.body",
    "DeviceProfile": "toolkit.sim.devices",
    "apply_device": "toolkit.sim.devices",
    "get_profile": "toolkit.sim.devices",
    "fidelity_report": "toolkit.sim.fidelity",
    "plot_clip_signals": "toolkit.sim.plots",
    "plot_placements": "toolkit.sim.plots",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
