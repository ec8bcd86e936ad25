"""Which exported bundle a device gets, and what to say when a model needs a gyroscope the device lacks.

``edge-export --int8`` writes ``<out>/watch`` (acc + gyro input) and ``<out>/watch-acc`` (accelerometer only, for
devices without gyroscope such as the Empatica E4) next to each other. :func:`choose_bundle` maps ``--model`` to
one bundle folder: a bundle folder (``manifest.json`` inside) is used as given; a folder of bundles gives
``watch-acc`` to an accelerometer-only device and ``watch`` to the others (then any bundle whose channels the
device can feed).
"""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.errors import ConfigError

MANIFEST = "manifest.json"
#: Preferred bundle names, for devices with / without a gyroscope.
PREFERRED = {True: ("watch", "phone", "watch-acc"), False: ("watch-acc",)}


def _channels(folder: Path) -> list[str] | None:
    try:
        return list(json.loads((folder / MANIFEST).read_text())["input"]["channels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _acc_only(channels: list[str] | None) -> bool:
    return channels is not None and not any(str(c).startswith("gyro") for c in channels)


def choose_bundle(model: str | Path, has_gyro: bool) -> Path:
    """The bundle folder for a device with (``has_gyro``) or without a gyroscope (module docstring).

    Raises ConfigError when ``model`` is neither a bundle nor a folder holding one.
    """
    folder = Path(model)
    if (folder / MANIFEST).is_file():
        return folder
    bundles = sorted(p for p in folder.iterdir() if (p / MANIFEST).is_file()) if folder.is_dir() else []
    if not bundles:
        raise ConfigError(
            f"--model {model}: no edge-export bundle there (manifest.json missing); run "
            "`edge-export --int8` first (writes dist/phone, dist/watch, dist/watch-acc)"
        )
    by_name = {p.name: p for p in bundles}
    for name in PREFERRED[bool(has_gyro)]:
        if name in by_name:
            return by_name[name]
    usable = [p for p in bundles if has_gyro or _acc_only(_channels(p))]
    if usable:
        return usable[0]
    raise ConfigError(gyro_refusal(bundles[0], "this device"))


def gyro_refusal(model_folder: str | Path | None, device: str) -> str:
    """One line: the model needs a gyroscope ``device`` does not have, and how to get a model that does not."""
    where = Path(model_folder) if model_folder is not None else None
    sibling = where.parent / "watch-acc" if where is not None else None
    if sibling is not None and (sibling / MANIFEST).is_file() and _acc_only(_channels(sibling)):
        use = f"use --model {sibling} (the accelerometer-only bundle) or --model {where.parent}"
    else:
        base = where.parent if where is not None else Path("dist")
        use = (
            f"use {base}/watch-acc (`edge-export --int8` writes it next to watch) or export an "
            "accelerometer-only model: edge-finetune --channels acc ... --out runs/ft && "
            "edge-export --checkpoint runs/ft --int8"
        )
    name = f" {where}" if where is not None else ""
    return f"stream: this model{name} needs gyroscope but device {device} sends none; {use}"


__all__ = ["choose_bundle", "gyro_refusal"]
