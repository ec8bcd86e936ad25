"""Where datasets and downloaded wheels live.

Data root, in order: an explicit ``data_root`` (the ``--data-root`` option), else ``$MULTI3EDGE_DATA``, else
``../shared/data`` beside the repository if that folder exists. Cache (downloaded wheels, converted ``.npz``):
``$MULTI3EDGE_CACHE``, else ``~/.cache/multi3edge``.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_DATA_ROOT = "MULTI3EDGE_DATA"
ENV_CACHE = "MULTI3EDGE_CACHE"

#: How to obtain each known dataset (for error messages).
HOW_TO_GET = {
    "sp-sw-har": "download it from https://doi.org/10.5281/zenodo.8398688 (CC BY 4.0) into DATA_ROOT/sp-sw-har",
    "openpack": "download OpenPack v1.0.0 (https://open-pack.github.io) into DATA_ROOT/openpack",
    "mm-fit": "download MM-Fit (https://mmfit.github.io) into DATA_ROOT/mm-fit",
    "seglearn": "it is fetched from PyPI (seglearn==1.2.5) by toolkit.data.seglearn.ensure_seglearn",
    "basicmotions": "it is fetched from PyPI (the aeon wheel) by toolkit.data.basicmotions",
}


class DatasetNotFoundError(ConfigError):
    """A dataset was not found; the one-line message says where it looked and how to get it."""


def data_root_candidates(data_root: str | Path | None = None) -> list[Path]:
    """The data roots to search, in order (only the explicit one when ``data_root`` is given)."""
    if data_root is not None:
        return [Path(data_root).expanduser()]
    out: list[Path] = []
    env = os.environ.get(ENV_DATA_ROOT)
    if env:
        out.append(Path(env).expanduser())
    out.append(REPO_ROOT.parent / "shared" / "data")
    return out


def resolve_data_root(data_root: str | Path | None = None) -> Path:
    """The first existing data root; :class:`DatasetNotFoundError` naming every candidate otherwise."""
    cands = data_root_candidates(data_root)
    for c in cands:
        if c.is_dir():
            return c
    raise DatasetNotFoundError(
        f"no data root found; looked in: {', '.join(map(str, cands))} (pass --data-root or set ${ENV_DATA_ROOT})"
    )


def find_dataset(name: str | Path, data_root: str | Path | None = None) -> Path:
    """``<root>/<name>`` for the first data root that has it.

    Raises:
        DatasetNotFoundError: one line with every place looked at and how to get the data.
    """
    tried = []
    for root in data_root_candidates(data_root):
        p = root / name
        if p.exists():
            return p
        tried.append(str(p))
    key = Path(name).parts[0] if Path(name).parts else str(name)
    how = HOW_TO_GET.get(key, "put it under a data root")
    hint = "" if data_root is not None else f"; pass --data-root or set ${ENV_DATA_ROOT}"
    raise DatasetNotFoundError(f"dataset {str(name)!r} not found; looked in: {', '.join(tried)}{hint}; {how}")


def cache_dir(cache: str | Path | None = None, create: bool = True) -> Path:
    """The download/conversion cache: ``cache``, else ``$MULTI3EDGE_CACHE``, else ``~/.cache/multi3edge``."""
    if cache is not None:
        p = Path(cache).expanduser()
    elif os.environ.get(ENV_CACHE):
        p = Path(os.environ[ENV_CACHE]).expanduser()
    else:
        p = Path.home() / ".cache" / "multi3edge"
    if create:
        p.mkdir(parents=True, exist_ok=True)
    return p
