"""Lazy public names of a package (PEP 562): ``from package import Name`` imports the defining module on first use,
so importing a package pulls in nothing heavy (torch, executorch, bumble) until a name is asked for."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, public: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package``, whose public names live in the modules ``public`` maps
    each name to (``{"Name": "package.module"}``). A name is imported once, then cached on the package."""
    names = sorted(public)

    def __getattr__(name: str) -> Any:
        module = public.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return names, __getattr__, __dir__
