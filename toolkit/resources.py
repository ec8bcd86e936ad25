"""Files shipped inside the installed package (floor layer): where the committed default model lives.

The default model is package data of :mod:`toolkit` (``toolkit/default_model/``, listed in ``pyproject.toml``), so
``edge-export --int8`` and ``edge-stream`` find it from any working folder, in an editable checkout or after
``pip install``. It is found with :mod:`importlib.resources`, in this one module.

``toolkit/default_model/``: ``classifier.pt`` + ``.json`` (fine-tuned teacher), ``pretrained.pt`` + ``.json``,
``windows.npz`` (labelled sp-sw-har windows), ``MODEL_CARD.md``, ``edge/watch/`` (its int8 watch bundle).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from toolkit.errors import ConfigError

#: Folder of the default model inside the :mod:`toolkit` package.
DEFAULT_MODEL_PACKAGE_DIR = "default_model"
#: The watch bundle of the default model, relative to its folder.
WATCH_BUNDLE = Path("edge") / "watch"


def default_model_dir(check: bool = True) -> Path:
    """Absolute path of the default model folder shipped with the installed package.

    Args:
        check: raise unless the folder holds ``classifier.pt`` (False: only compute the path, e.g. for a default).

    Raises:
        ConfigError: the package is not installed as plain files (e.g. imported from a zip), or the model's files
            were left out of the installation.
    """
    root = resources.files("toolkit") / DEFAULT_MODEL_PACKAGE_DIR
    if not isinstance(root, Path):
        raise ConfigError(f"the default model ({root}) is not a folder on disk: install multi3edge as files "
                          "(pip install, not a zip), or pass --checkpoint / --model")
    if check and not (root / "classifier.pt").is_file():
        raise ConfigError(f"the default model is missing from the installation ({root}: no classifier.pt); "
                          "reinstall multi3edge, or pass --checkpoint / --model")
    return root


def default_watch_bundle(check: bool = True) -> Path:
    """Absolute path of the default model's int8 watch bundle (an ``edge-export`` folder with ``manifest.json``)."""
    return default_model_dir(check) / WATCH_BUNDLE


def default_pretrained(check: bool = True) -> Path:
    """Absolute path of the default model's pretrained Multi3Net+ checkpoint (``pretrained.pt``)."""
    return default_model_dir(check) / "pretrained.pt"


__all__ = ["DEFAULT_MODEL_PACKAGE_DIR", "WATCH_BUNDLE", "default_model_dir", "default_pretrained",
           "default_watch_bundle"]
