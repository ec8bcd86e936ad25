"""In-process virtual BLE radio built on Google's ``bumble``.

One :class:`VirtualRadio` owns a :class:`bumble.link.LocalLink` (the "air"), a lazily created
*central* :class:`bumble.device.Device` (the host side: shared by every
:class:`~firmware_bridge.backends.bumble_backend.BumbleScanner` and
:class:`~firmware_bridge.backends.bumble_backend.BumbleClient`) and any number of virtual
peripherals, each with its own emulated controller on the same link.

bumble binds its HCI pipes to the running event loop (``AsyncPipeSink`` captures it), so a radio
belongs to exactly one loop. :func:`get_radio` returns *the* radio of the running loop, creating it
on first use: within one ``asyncio.run(...)`` every scanner, client and peripheral meets on the same
link, and a new ``asyncio.run`` starts from an empty radio. Call :func:`close_radio` (or
``await radio.close()``) before the loop ends for an orderly shutdown.

Behaviour of the emulated controller that this module works around (bumble 0.0.236):

* several scanners share one radio: scanning is reference counted (:meth:`VirtualRadio.acquire_scan`);
* only one LE connection may be pending at a time: connects are serialised (:meth:`VirtualRadio.connect`);
* ``HCI_LE_Create_Connection_Cancel`` is a no-op in the emulated controller, so bumble's own connect
  timeout would hang forever and block every later connect: the timeout is implemented here and the
  controller's pending connection is cleared by hand;
* the emulated controller echoes the advertising data as the scan response, so active scanning yields
  each AD structure twice (the backend de-duplicates).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Callable
from typing import Any

from bumble import hci
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from toolkit.errors import Multi3EdgeError

logger = logging.getLogger(__name__)

AdvertisementListener = Callable[[Advertisement], None]

#: LE ACL data packet length of every emulated controller (bumble's default is 27).
LE_ACL_DATA_PACKET_LENGTH = 251

#: Address of the central (host side) device on every radio (a valid random static address).
CENTRAL_ADDRESS = "C0:DE:00:00:00:01"


class RadioClosedError(Multi3EdgeError, RuntimeError):
    """Raised when a closed :class:`VirtualRadio` is used (under the project's error root; still a RuntimeError)."""


class VirtualRadio:
    """A shared in-process BLE "air": one LocalLink, one central device, many virtual peripherals.

    Args:
        central_address: Bluetooth address of the central device (random static address).
        central_name: GAP name of the central device.
    """

    def __init__(self, central_address: str = CENTRAL_ADDRESS, central_name: str = "multi3edge-central") -> None:
        self.link = LocalLink()
        self.central_address = central_address
        self.central_name = central_name
        self._central: Device | None = None
        self._central_controller: Controller | None = None
        self._central_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._scan_lock = asyncio.Lock()
        self._scan_listeners: dict[int, AdvertisementListener] = {}
        self._scan_tokens = itertools.count(1)
        self._scanning = False
        self._peripherals: dict[str, Any] = {}
        self._controllers: dict[int, Controller] = {}
        self._claimed_handles: set[int] = set()
        self._address_counter = itertools.count(1)
        self.closed = False

    # ------------------------------------------------------------------ devices
    def _check_open(self) -> None:
        if self.closed:
            raise RadioClosedError("virtual radio is closed")

    def _make_controller(self, name: str, address: str) -> Controller:
        controller = Controller(name, link=self.link, public_address=address)
        # Model a controller with LE Data Length Extension (251-octet ACL payloads, as in BLE 4.2+
        # chips): with bumble's default of 27 octets every 247-byte ATT PDU is cut into ten HCI
        # fragments, which costs ~5x in throughput on the in-process link.
        controller.le_acl_data_packet_length = LE_ACL_DATA_PACKET_LENGTH
        return controller

    def create_device(self, name: str, address: str) -> Device:
        """Create (not power on) a bumble Device with its own emulated controller on this link."""
        self._check_open()
        controller = self._make_controller(name, address)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self._controllers[id(device)] = controller
        return device

    def remove_device(self, device: Device) -> None:
        """Detach the controller of ``device`` from the link (call after powering it off)."""
        controller = self._controllers.pop(id(device), None)
        if controller is not None and controller in self.link.controllers:
            self.link.remove_controller(controller)

    def allocate_address(self) -> str:
        """Return a fresh random static address for a virtual peripheral (``D0:00:00:00:xx:yy``)."""
        n = next(self._address_counter)
        return f"D0:00:00:00:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}"

    def register_peripheral(self, address: str, peripheral: Any) -> None:
        """Record a virtual peripheral so that :meth:`close` can stop it."""
        self._check_open()
        key = address.upper()
        if key in self._peripherals and self._peripherals[key] is not peripheral:
            raise ValueError(f"address {address} is already used on this radio")
        self._peripherals[key] = peripheral

    def unregister_peripheral(self, address: str) -> None:
        """Forget a virtual peripheral (it has stopped)."""
        self._peripherals.pop(address.upper(), None)

    @property
    def peripherals(self) -> dict[str, Any]:
        """Registered virtual peripherals by upper-case address."""
        return dict(self._peripherals)

    def has_device(self, address: str) -> bool:
        """True when some controller on the link answers to ``address``."""
        return self.link.find_le_controller(hci.Address(address)) is not None

    async def central(self) -> Device:
        """The powered-on central device, created on first use."""
        self._check_open()
        async with self._central_lock:
            if self._central is None:
                controller = self._make_controller(self.central_name, self.central_address)
                device = Device(
                    name=self.central_name,
                    address=hci.Address(self.central_address),
                    host=Host(controller, AsyncPipeSink(controller)),
                )
                await device.power_on()
                device.on(Device.EVENT_ADVERTISEMENT, self._dispatch_advertisement)
                self._central_controller = controller
                self._central = device
            return self._central

    # ----------------------------------------------------------------- scanning
    def _dispatch_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._scan_listeners.values()):
            try:
                listener(advertisement)
            except Exception:  # a broken listener must not stop the others
                logger.exception("advertisement listener failed")

    async def acquire_scan(self, listener: AdvertisementListener) -> int:
        """Register ``listener`` for advertisements; start scanning if it is the first one.

        Returns a token for :meth:`release_scan`.
        """
        central = await self.central()
        async with self._scan_lock:
            token = next(self._scan_tokens)
            self._scan_listeners[token] = listener
            if not self._scanning:
                # Passive scanning: the emulated controller sends no extra data in scan responses.
                await central.start_scanning(active=False, filter_duplicates=False)
                self._scanning = True
            return token

    async def release_scan(self, token: int) -> None:
        """Unregister a listener; stop scanning when none is left."""
        async with self._scan_lock:
            self._scan_listeners.pop(token, None)
            if self._scanning and not self._scan_listeners and self._central is not None and not self.closed:
                await self._central.stop_scanning()
                self._scanning = False

    @property
    def scanning(self) -> bool:
        """True while at least one scanner is active."""
        return self._scanning

    # -------------------------------------------------------------- connecting
    async def wait_for_advertisement(self, address: str, timeout: float) -> Advertisement:
        """Scan (shared, reference counted) until ``address`` advertises connectably.

        Raises:
            TimeoutError: nothing heard from ``address`` within ``timeout`` seconds.
        """
        peer = hci.Address(address)
        future: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Advertisement) -> None:
            if advertisement.address == peer and advertisement.is_connectable and not future.done():
                future.set_result(advertisement)

        token = await self.acquire_scan(listener)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            await self.release_scan(token)

    async def connect(self, address: str, timeout: float) -> Connection:
        """Connect the central to ``address``.

        Like a real host stack, it first scans until the peripheral advertises (without blocking other
        connects), then creates the connection under a lock (only one LE connection may be pending in
        the controller), so one silent peripheral does not stall connects to the others.

        Raises:
            TimeoutError: the peripheral was not heard or did not accept within ``timeout`` seconds.
            ConnectionError: the central is already connected to ``address``.
        """
        central = await self.central()
        peer = hci.Address(address)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.wait_for_advertisement(address, timeout)
        async with asyncio.timeout(max(0.0, deadline - loop.time())):
            await self._connect_lock.acquire()
        try:
            for existing in central.connections.values():
                if existing.peer_address == peer and existing.handle in self._claimed_handles:
                    raise ConnectionError(f"already connected to {address}")
            remaining = max(0.05, deadline - loop.time())
            try:
                connection = await asyncio.wait_for(central.connect_le(peer, timeout=None), remaining)
            except (TimeoutError, asyncio.CancelledError):
                await self._abandon_pending_connection(peer)
                raise
        finally:
            self._connect_lock.release()
        handle = connection.handle
        self._claimed_handles.add(handle)
        connection.on(Connection.EVENT_DISCONNECTION, lambda *_: self._claimed_handles.discard(handle))
        return connection

    async def _abandon_pending_connection(self, peer: hci.Address) -> None:
        """Clear the emulated controller's pending connection and drop a connection that raced in."""
        if self._central_controller is not None:
            self._central_controller.pending_le_connection = None
        # A connection-complete event may already be queued: let it land, then drop the orphan.
        for _ in range(5):
            await asyncio.sleep(0)
        if self._central is None:
            return
        for connection in list(self._central.connections.values()):
            if connection.peer_address == peer and connection.handle not in self._claimed_handles:
                try:
                    await connection.disconnect()
                except Exception:  # pragma: no cover - best effort
                    logger.debug("could not drop orphan connection", exc_info=True)

    # ----------------------------------------------------------------- closing
    async def close(self) -> None:
        """Stop every peripheral, disconnect and power off the central, empty the link. Idempotent."""
        if self.closed:
            return
        for peripheral in list(self._peripherals.values()):
            try:
                await asyncio.wait_for(peripheral.stop(), 5.0)
            except Exception:
                logger.exception("failed to stop virtual peripheral")
        self._peripherals.clear()
        central = self._central
        if central is not None:
            for connection in list(central.connections.values()):
                try:
                    await asyncio.wait_for(connection.disconnect(), 2.0)
                except Exception:
                    logger.debug("disconnect during close failed", exc_info=True)
            if self._scanning:
                try:
                    await central.stop_scanning()
                except Exception:
                    logger.debug("stop_scanning during close failed", exc_info=True)
                self._scanning = False
            try:
                await asyncio.wait_for(central.power_off(), 2.0)
            except Exception:
                logger.debug("power_off during close failed", exc_info=True)
        self._scan_listeners.clear()
        for controller in list(self.link.controllers):
            self.link.remove_controller(controller)
        self._controllers.clear()
        self._central = None
        self._central_controller = None
        self.closed = True


_radios: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, VirtualRadio] = weakref.WeakKeyDictionary()


def get_radio() -> VirtualRadio:
    """The virtual radio of the running event loop (created on first use, recreated after close)."""
    loop = asyncio.get_running_loop()
    radio = _radios.get(loop)
    if radio is None or radio.closed:
        radio = VirtualRadio()
        _radios[loop] = radio
    return radio


def current_radio() -> VirtualRadio | None:
    """The open radio of the running loop, or None (does not create one)."""
    radio = _radios.get(asyncio.get_running_loop())
    return None if radio is None or radio.closed else radio


async def close_radio() -> None:
    """Close the running loop's radio, if any."""
    radio = current_radio()
    if radio is not None:
        await radio.close()
