"""Real and synthetic window datasets in the simulator's frame and units.

* :mod:`toolkit.data.paths`: where datasets are found (``--data-root``, ``$MULTI3EDGE_DATA``, ``../shared/data``)
  and the download cache (``$MULTI3EDGE_CACHE`` or ``~/.cache/multi3edge``).
* :mod:`toolkit.data.recording`: :class:`~toolkit.data.recording.Recording`, one continuous real recording already
  converted into the simulator's watch frame and SI units through an explicit device profile and mount.
* loaders: :mod:`~toolkit.data.sp_sw_har`, :mod:`~toolkit.data.seglearn`, :mod:`~toolkit.data.basicmotions`,
  :mod:`~toolkit.data.csv_format`, :mod:`~toolkit.data.openpack`, :mod:`~toolkit.data.mmfit`.
* :mod:`toolkit.data.windows`: resampling and windowing of real recordings and of simulator datasets.
* :mod:`toolkit.data.splits`: subject-wise folds and a train-only normaliser.
"""
