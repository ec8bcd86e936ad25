"""Real and synthetic window datasets in the simulator's frame and units.

* :mod:`toolkit.data.paths`: where datasets are found (``--data-root``, ``$MULTI3EDGE_DATA``, ``../shared/data``)
  and the download cache (``$MULTI3EDGE_CACHE`` or ``~/.cache/multi3edge``).
* :mod:`toolkit.data.recording`: :class:`~toolkit.data.recording.Recording`, one continuous real recording already
  converted into the simulator's watch frame and SI units through an explicit device profile and mount.
* loaders: :mod:`~toolkit.data.sp_sw_har`, :mod:`~toolkit.data.seglearn`, :mod:`~toolkit.data.basicmotions`,
  :mod:`~toolkit.data.csv_format`, :mod:`~toolkit.data.openpack`, :mod:`~toolkit.data.mmfit`; your own data:
  :mod:`~toolkit.data.folder_format` (a folder of per-trial files + ``dataset.yaml``) and
  :mod:`~toolkit.data.ts_format` (UEA/sktime ``.ts`` files).
* :mod:`toolkit.data.resampling`: the one resampling to the model grid (training and streaming).
* :mod:`toolkit.data.windows`: resampling and windowing of real recordings and of simulator datasets.
* :mod:`toolkit.data.splits`: subject-wise folds and a train-only normaliser.
"""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

#: Public name -> the module that defines it. Loaded on first use (PEP 562): importing one module of this package
#: does not import the others (nor their optional dependencies).
_PUBLIC = {
    "DatasetNotFoundError": "toolkit.data.paths",
    "find_dataset": "toolkit.data.paths",
    "Recording": "toolkit.data.recording",
    "make_recording": "toolkit.data.recording",
    "RealWindows": "toolkit.data.windows",
    "SyntheticWindows": "toolkit.data.windows",
    "real_windows": "toolkit.data.windows",
    "synthetic_windows": "toolkit.data.windows",
    "Fold": "toolkit.data.splits",
    "Normalizer": "toolkit.data.splits",
    "loso_folds": "toolkit.data.splits",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
