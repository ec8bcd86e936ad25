"""A bleak backend over bumble's in-process virtual radio.

Application code keeps using the plain bleak public API and only injects the backend classes::

    async with BleakScanner(backend=BumbleScanner) as scanner: ...
    async with BleakClient(device_or_address, backend=BumbleClient) as client: ...

Both talk to :func:`firmware_bridge.backends.bumble_link.get_radio` (the radio of the running event
loop) where virtual peripherals (:class:`firmware_bridge.virtual.peripheral.VirtualPeripheral`)
advertise and serve GATT over a real bumble ATT/GATT stack.

Mapping of bleak's backend contract onto bumble:

* scanning: ``Device.start_scanning`` on the shared central (reference counted); each bumble
  ``Advertisement`` becomes a :class:`bleak.backends.device.BLEDevice` (address ``AA:BB:..``,
  ``details`` = :class:`BumbleDeviceDetails`) and an :class:`AdvertisementData` (local name, 16/32/128-bit
  service UUIDs as bleak-normalised lower-case 128-bit strings, service and manufacturer data, TX power,
  RSSI; the raw bumble advertisement in ``platform_data``).
* connect: ``Device.connect_le`` (serialised, with a working timeout), then an ATT MTU exchange
  (247 by default: without it the MTU stays 23 and notifications are cut to 20 bytes), then full
  service / characteristic / descriptor discovery into a :class:`BleakGATTServiceCollection`.
  Handles are ATT handles: services by declaration handle, characteristics by *value* handle,
  descriptors by their own handle. ``obj`` holds the bumble proxy.
* read / write / notify: ``gatt_client`` reads, writes (with or without response) and CCCD
  subscribe / unsubscribe; bumble's ``ATT_Error`` becomes :class:`bleak.exc.BleakGATTProtocolError`,
  GATT timeouts and operations cut by a disconnection become :class:`bleak.exc.BleakError`.
* disconnect: ``Connection.disconnect``; the disconnected callback runs (scheduled on the loop) for
  local and remote disconnects, as bleak's BlueZ and WinRT backends do.
* pairing is not emulated: ``pair()`` / ``unpair()`` raise :class:`NotImplementedError`;
  ``connect(pair=True)`` logs and ignores the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid as uuid_module
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Peer
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, Characteristic
from bumble.gatt_client import CharacteristicProxy

from firmware_bridge.backends.bumble_link import VirtualRadio, get_radio

logger = logging.getLogger(__name__)

#: ATT MTU requested right after connecting (the largest single-PDU LE data length is 251 = 247 + 4).
DEFAULT_REQUESTED_MTU = 247
#: ATT default MTU before any exchange.
ATT_DEFAULT_MTU = 23


# --------------------------------------------------------------------------- UUID helpers
def bumble_uuid_to_str(value: core.UUID) -> str:
    """bleak-normalised UUID string (lower-case, 128-bit) of a bumble UUID.

    bumble stores UUID bytes little-endian; Python's :class:`uuid.UUID` wants big-endian.
    """
    return str(uuid_module.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


def str_to_bumble_uuid(value: str) -> core.UUID:
    """bumble UUID of a 16-bit (``"180d"``) or 128-bit UUID string."""
    text = value.strip().lower()
    if len(text) == 4:
        return core.UUID.from_16_bits(int(text, 16))
    if len(text) == 8:
        return core.UUID.from_32_bits(int(text, 16))
    return core.UUID(str(uuid_module.UUID(text)))


def _properties_to_names(properties: int) -> list[CharacteristicPropertyName]:
    return [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if properties & bit and bit <= 0xFF]


# --------------------------------------------------------------------------- advertising
@dataclass(frozen=True)
class BumbleDeviceDetails:
    """``BLEDevice.details`` of devices found by :class:`BumbleScanner`."""

    address: hci.Address
    radio: VirtualRadio


def advertisement_to_bleak(advertisement: Advertisement) -> AdvertisementData:
    """Convert a bumble advertisement into bleak's :class:`AdvertisementData`.

    Repeated AD structures (the emulated controller echoes the advertising data as the scan response)
    are merged: the first local name wins, UUID lists are de-duplicated in order.
    """
    local_name: str | None = None
    short_name: str | None = None
    service_uuids: list[str] = []
    service_data: dict[str, bytes] = {}
    manufacturer_data: dict[int, bytes] = {}
    tx_power: int | None = None
    uuid_sizes = {
        AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
        AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
        AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
        AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
        AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
        AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    }
    service_data_sizes = {
        AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID: 2,
        AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID: 4,
        AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID: 16,
    }
    for ad_type, payload in advertisement.data.ad_structures:
        if ad_type == AdvertisingData.Type.COMPLETE_LOCAL_NAME and local_name is None:
            local_name = payload.decode("utf-8", errors="replace")
        elif ad_type == AdvertisingData.Type.SHORTENED_LOCAL_NAME and short_name is None:
            short_name = payload.decode("utf-8", errors="replace")
        elif ad_type in uuid_sizes:
            size = uuid_sizes[ad_type]
            for offset in range(0, len(payload) - size + 1, size):
                text = bumble_uuid_to_str(core.UUID.from_bytes(payload[offset : offset + size]))
                if text not in service_uuids:
                    service_uuids.append(text)
        elif ad_type in service_data_sizes:
            size = service_data_sizes[ad_type]
            if len(payload) >= size:
                service_data[bumble_uuid_to_str(core.UUID.from_bytes(payload[:size]))] = bytes(payload[size:])
        elif ad_type == AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA and len(payload) >= 2:
            manufacturer_data[struct.unpack_from("<H", payload)[0]] = bytes(payload[2:])
        elif ad_type == AdvertisingData.Type.TX_POWER_LEVEL and len(payload) == 1:
            tx_power = struct.unpack("b", payload)[0]
    return AdvertisementData(
        local_name=local_name if local_name is not None else short_name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend on the virtual radio: ``BleakScanner(backend=BumbleScanner)``.

    Args:
        detection_callback: see :class:`bleak.BleakScanner`.
        service_uuids: only report advertisements carrying one of these service UUIDs.
        scanning_mode: accepted for API compatibility; the shared radio always scans passively because
            the emulated controller carries no extra data in scan responses.
        radio: the radio to use (default: the running loop's :func:`get_radio`).
    """

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        radio: VirtualRadio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio = radio
        self._active_radio: VirtualRadio | None = None
        self._token: int | None = None
        self._scanning_mode = scanning_mode

    async def start(self) -> None:
        """Start receiving advertisements (clears :attr:`seen_devices`)."""
        if self._token is not None:
            return
        self.seen_devices = {}
        radio = self._radio or get_radio()
        self._active_radio = radio
        self._token = await radio.acquire_scan(self._on_advertisement)

    async def stop(self) -> None:
        """Stop receiving advertisements."""
        if self._token is None or self._active_radio is None:
            return
        token, self._token = self._token, None
        await self._active_radio.release_scan(token)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = advertisement_to_bleak(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address.to_string(False)
        assert self._active_radio is not None
        device = self.create_or_update_device(
            key=address,
            address=address,
            name=adv.local_name,
            details=BumbleDeviceDetails(address=advertisement.address, radio=self._active_radio),
            adv=adv,
        )
        self.call_detection_callbacks(device, adv)


# --------------------------------------------------------------------------- client
class BumbleClient(BaseBleakClient):
    """bleak client backend on the virtual radio: ``BleakClient(device_or_address, backend=BumbleClient)``.

    Extra keyword arguments (passed through ``BleakClient(**kwargs)``):
        radio: the radio to use (default: the one in the BLEDevice details, else :func:`get_radio`).
        mtu: ATT MTU requested after connecting (default 247).
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Any = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        radio: VirtualRadio | None = None,
        mtu: int = DEFAULT_REQUESTED_MTU,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._device_name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._device_name = address_or_ble_device.name
            details = address_or_ble_device.details
            if radio is None and isinstance(details, BumbleDeviceDetails) and not details.radio.closed:
                radio = details.radio
        self._radio = radio
        self._requested_mtu = mtu
        self._service_filter = {s.lower() for s in services} if services else None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._notify_subscribers: dict[int, Any] = {}
        self._disconnect_handled = True

    # ------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """Advertised name if known, else the address with dashes."""
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """Negotiated ATT MTU (23 before the exchange / when not connected)."""
        if self._connection is None:
            return ATT_DEFAULT_MTU
        return int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        """True while the bumble connection is up."""
        return self._connection is not None

    # ------------------------------------------------------------ connectivity
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover services, all within the client's timeout."""
        if self._connection is not None:
            return
        if pair:
            logger.info("pairing is not emulated by the bumble backend; connecting without pairing")
        timeout = float(kwargs.get("timeout", self._timeout))
        radio = self._radio or get_radio()
        self._radio = radio
        if not radio.has_device(self.address):
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            connection = await radio.connect(self.address, timeout)
        except TimeoutError:
            raise TimeoutError(f"timed out connecting to {self.address}") from None
        except ConnectionError as error:
            raise BleakError(str(error)) from error
        except core.BaseBumbleError as error:
            raise BleakError(f"connection to {self.address} failed: {error}") from error
        self._connection = connection
        self._peer = Peer(connection)
        self._disconnect_handled = False
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            remaining = max(0.1, deadline - loop.time())
            async with asyncio.timeout(remaining):
                async with self._map_errors():
                    await self._peer.request_mtu(self._requested_mtu)
                    self.services = await self._discover()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.disconnect()
            raise

    async def _discover(self) -> BleakGATTServiceCollection:
        assert self._peer is not None
        peer = self._peer
        collection = BleakGATTServiceCollection()
        await peer.discover_services()
        for service_proxy in peer.services:
            service_uuid = bumble_uuid_to_str(service_proxy.uuid)
            if self._service_filter is not None and service_uuid not in self._service_filter:
                continue
            service = BleakGATTService(service_proxy, service_proxy.handle, service_uuid)
            collection.add_service(service)
            characteristics = await peer.discover_characteristics(service=service_proxy)
            for char_proxy in characteristics:
                characteristic = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    bumble_uuid_to_str(char_proxy.uuid),
                    _properties_to_names(int(char_proxy.properties)),
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor_proxy in await peer.discover_descriptors(characteristic=char_proxy):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor_proxy,
                            descriptor_proxy.handle,
                            bumble_uuid_to_str(descriptor_proxy.type),
                            characteristic,
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        if self._disconnect_handled:
            return
        self._disconnect_handled = True
        self._connection = None
        self._peer = None
        self._notify_subscribers.clear()
        logger.debug("disconnected from %s (reason 0x%02X)", self.address, reason)
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        """Disconnect (no-op when not connected)."""
        connection = self._connection
        if connection is None:
            return
        try:
            await asyncio.wait_for(connection.disconnect(), 5.0)
        except (TimeoutError, core.BaseBumbleError, hci.HCI_Error) as error:
            logger.debug("disconnect of %s: %s", self.address, error)
        # The disconnection event has normally run by now; make sure the state is clean anyway.
        self._on_disconnection(hci.HCI_CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pairing is not emulated."""
        raise NotImplementedError("pairing is not emulated by the bumble backend")

    async def unpair(self) -> None:
        """Pairing is not emulated."""
        raise NotImplementedError("pairing is not emulated by the bumble backend")

    # ------------------------------------------------------------ I/O
    @contextlib.asynccontextmanager
    async def _map_errors(self) -> AsyncIterator[None]:
        """Translate bumble exceptions into bleak exceptions."""
        if self._peer is None:
            raise BleakError("Not connected")
        try:
            yield
        except att.ATT_Error as error:
            raise BleakGATTProtocolError(error.error_code) from error
        except core.TimeoutError as error:
            raise BleakError(f"GATT operation timed out: {error}") from error
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # bumble cancels the pending ATT response future when the link drops.
            raise BleakError("Disconnected during GATT operation") from None
        except (core.BaseBumbleError, hci.HCI_Error) as error:
            raise BleakError(str(error)) from error

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (``use_cached`` returns the last read / notified value if any)."""
        async with self._map_errors():
            assert self._peer is not None
            if use_cached:
                cached = self._peer.gatt_client.cached_values.get(characteristic.handle)
                if cached is not None:
                    return bytearray(cached[1])
            return bytearray(await self._peer.read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        async with self._map_errors():
            assert self._peer is not None
            if use_cached:
                cached = self._peer.gatt_client.cached_values.get(descriptor.handle)
                if cached is not None:
                    return bytearray(cached[1])
            return bytearray(await self._peer.read_value(descriptor.obj))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        """Write with response (ATT Write Request) or without (ATT Write Command)."""
        payload = bytes(data)
        if not response and len(payload) > self.mtu_size - 3:
            raise BleakError(
                f"write without response of {len(payload)} bytes exceeds MTU-3 = {self.mtu_size - 3} bytes"
            )
        async with self._map_errors():
            assert self._peer is not None
            await self._peer.write_value(characteristic.obj, payload, with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Write a descriptor (with response)."""
        async with self._map_errors():
            assert self._peer is not None
            await self._peer.write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD (notifications preferred over indications) and route values to ``callback``."""
        proxy = characteristic.obj
        if not isinstance(proxy, CharacteristicProxy):
            raise BleakError(f"characteristic {characteristic.uuid} does not come from this backend")
        if not proxy.properties & (Characteristic.Properties.NOTIFY | Characteristic.Properties.INDICATE):
            raise BleakError(f"characteristic {characteristic.uuid} does not support notify or indicate")
        if proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR) is None:
            raise BleakError(f"characteristic {characteristic.uuid} has no CCCD")

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        async with self._map_errors():
            assert self._peer is not None
            previous = self._notify_subscribers.pop(characteristic.handle, None)
            if previous is not None:
                await self._peer.unsubscribe(proxy, previous)
            self._notify_subscribers[characteristic.handle] = subscriber
            try:
                await self._peer.subscribe(proxy, subscriber, prefer_notify=True)
            except BaseException:
                self._notify_subscribers.pop(characteristic.handle, None)
                raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Clear the CCCD and forget the callback."""
        subscriber = self._notify_subscribers.pop(characteristic.handle, None)
        if subscriber is None:
            return
        async with self._map_errors():
            assert self._peer is not None
            await self._peer.unsubscribe(characteristic.obj, subscriber)
