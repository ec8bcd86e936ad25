"""Helpers shared by the virtual-BLE tests (no pytest-asyncio: each test runs its own loop)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from typing import TypeVar

from firmware_bridge.backends.bumble_link import close_radio

T = TypeVar("T")


def run_async(factory: Callable[[], Awaitable[T]], timeout: float = 20.0) -> T:
    """Run ``factory()`` in a fresh event loop with a hard timeout, closing the virtual radio after."""

    async def main() -> T:
        try:
            return await asyncio.wait_for(factory(), timeout)
        finally:
            await asyncio.wait_for(close_radio(), 10.0)

    return asyncio.run(main())


def seq_of(payload: bytes) -> int:
    """Sequence number embedded by ``make_counter_source`` (u32 LE at offset 0)."""
    return struct.unpack_from("<I", payload)[0]


async def drain(queue: asyncio.Queue) -> list:
    """Everything currently in ``queue``."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
