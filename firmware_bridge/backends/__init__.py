"""bleak backends, chosen in one place (like bleak's own ``get_platform_client_backend_type``).

:func:`get_backend` returns the client and scanner classes to pass as bleak's ``backend=`` and an id:

* ``"platform"``: real hardware through bleak's platform backend (BlueZ, CoreBluetooth, WinRT); the classes are None
  so that bleak picks its own.
* ``"virtual"``: the in-process bumble radio (:mod:`.bumble_backend`), for tests and demos without Bluetooth hardware.

A :class:`~firmware_bridge.session.StreamSession` records the id in its ``session-start`` event, so a recording says
whether it came from real hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: The backend ids.
BackendId = Literal["platform", "virtual"]
BACKEND_IDS: tuple[BackendId, ...] = ("platform", "virtual")


@dataclass(frozen=True)
class Backend:
    """A chosen backend: bleak client / scanner backend classes (None: the platform's) and its id."""

    id: BackendId
    client: type[Any] | None = None
    scanner: type[Any] | None = None


def get_backend(virtual: bool = False) -> Backend:
    """The backend for real hardware (``virtual=False``) or for the in-process virtual radio."""
    if not virtual:
        return Backend("platform")
    from .bumble_backend import BumbleClient, BumbleScanner  # delays bumble (the virtual radio) until asked for

    return Backend("virtual", BumbleClient, BumbleScanner)


def backend_id_of(client: type[Any] | None) -> BackendId:
    """The id of a bleak client backend class given to a session (None: the platform's)."""
    return "platform" if client is None else "virtual"


__all__ = ["BACKEND_IDS", "Backend", "BackendId", "backend_id_of", "get_backend"]
