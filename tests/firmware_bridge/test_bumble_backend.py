"""The bumble bleak backend, exercised only through bleak's public API."""

from __future__ import annotations

import asyncio
import time

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

from firmware_bridge.backends.bumble_backend import (
    BumbleClient,
    BumbleScanner,
    bumble_uuid_to_str,
    str_to_bumble_uuid,
)
from firmware_bridge.backends.bumble_link import get_radio
from firmware_bridge.virtual.peripheral import (
    DEFAULT_CONTROL_UUID,
    DEFAULT_DATA_UUID,
    DEFAULT_SERVICE_UUID,
    VirtualPeripheral,
    make_counter_source,
)

from .ble_helpers import run_async, seq_of

OTHER_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"  # heart rate, 16-bit


def test_uuid_conversion_round_trip() -> None:
    for text in (DEFAULT_SERVICE_UUID, OTHER_SERVICE):
        assert bumble_uuid_to_str(str_to_bumble_uuid(text)) == text
    assert bumble_uuid_to_str(str_to_bumble_uuid("180d")) == OTHER_SERVICE


def test_scan_finds_device_by_name_and_service_uuid() -> None:
    async def body() -> None:
        imu = VirtualPeripheral("M3E-IMU-01")
        hr = VirtualPeripheral("HR-Strap", service_uuid=OTHER_SERVICE)
        await imu.start()
        await hr.start()

        found = await BleakScanner.find_device_by_name("M3E-IMU-01", timeout=2.0, backend=BumbleScanner)
        assert found is not None and found.address == imu.address

        results = await BleakScanner.discover(timeout=0.3, return_adv=True, backend=BumbleScanner)
        assert set(results) == {imu.address, hr.address}
        device, adv = results[imu.address]
        assert device.name == "M3E-IMU-01"
        assert adv.local_name == "M3E-IMU-01"
        assert adv.service_uuids == [DEFAULT_SERVICE_UUID]
        assert isinstance(adv.rssi, int) and -127 <= adv.rssi <= 20
        assert results[hr.address][1].service_uuids == [OTHER_SERVICE]

        filtered = await BleakScanner.discover(
            timeout=0.3, return_adv=True, service_uuids=[DEFAULT_SERVICE_UUID], backend=BumbleScanner
        )
        assert set(filtered) == {imu.address}

        # two scanners at once share the radio; stopping one keeps the other running
        async with BleakScanner(backend=BumbleScanner) as outer:
            async with BleakScanner(backend=BumbleScanner):
                await asyncio.sleep(0.1)
            assert get_radio().scanning
            outer_seen_before = len(outer.discovered_devices)
            await asyncio.sleep(0.1)
            assert outer_seen_before >= 1
        assert not get_radio().scanning

    run_async(body)


def test_connect_mtu_services_and_200_notifications_in_order() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral("IMU-A", source=make_counter_source(200, 180, rng_seed=7), record=True)
        await peripheral.start()
        device = await BleakScanner.find_device_by_name("IMU-A", timeout=2.0, backend=BumbleScanner)
        assert device is not None
        received: list[bytes] = []
        done = asyncio.Event()

        def on_data(_char: object, data: bytearray) -> None:
            received.append(bytes(data))
            if len(received) == 200:
                done.set()

        async with BleakClient(device, backend=BumbleClient, timeout=5.0) as client:
            assert client.is_connected
            assert client.mtu_size >= 185
            service = client.services.get_service(DEFAULT_SERVICE_UUID)
            assert service is not None
            data_char = service.get_characteristic(DEFAULT_DATA_UUID)
            control_char = service.get_characteristic(DEFAULT_CONTROL_UUID)
            assert data_char is not None and control_char is not None
            assert "notify" in data_char.properties
            assert {"write", "write-without-response"} <= set(control_char.properties)
            assert [d.uuid for d in data_char.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
            assert data_char.max_write_without_response_size == client.mtu_size - 3

            await client.start_notify(data_char, on_data)
            await asyncio.wait_for(done.wait(), 10.0)
            await client.stop_notify(data_char)

        assert received == peripheral.sent_log
        assert [seq_of(p) for p in received] == list(range(200))
        assert all(len(p) == 180 for p in received)
        assert not client.is_connected

    run_async(body)


def test_write_to_control_characteristic_reaches_peripheral() -> None:
    async def body() -> None:
        got: list[bytes] = []
        peripheral = VirtualPeripheral("IMU-W", on_control=got.append)
        await peripheral.start()
        async with BleakClient(peripheral.address, backend=BumbleClient, timeout=5.0) as client:
            await client.write_gatt_char(DEFAULT_CONTROL_UUID, b"\x02\x01start", response=True)
            await client.write_gatt_char(DEFAULT_CONTROL_UUID, b"cmd-no-rsp", response=False)
            long_command = bytes(range(200))
            await client.write_gatt_char(DEFAULT_CONTROL_UUID, long_command, response=True)
            assert await client.read_gatt_char(DEFAULT_CONTROL_UUID) == bytearray(long_command)
            assert peripheral.control_log == [b"\x02\x01start", b"cmd-no-rsp", long_command]
            assert got == peripheral.control_log
            # a write-without-response larger than MTU-3 is refused before it reaches the stack
            with pytest.raises(BleakError):
                await client.write_gatt_char(DEFAULT_CONTROL_UUID, bytes(client.mtu_size), response=False)

    run_async(body)


def test_att_errors_become_bleak_gatt_protocol_errors() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral("IMU-E")
        await peripheral.start()
        async with BleakClient(peripheral.address, backend=BumbleClient, timeout=5.0) as client:
            with pytest.raises(BleakGATTProtocolError) as info:
                await client.write_gatt_char(DEFAULT_DATA_UUID, b"nope", response=True)
            assert info.value.code == BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED
            # the connection is still usable afterwards
            await client.write_gatt_char(DEFAULT_CONTROL_UUID, b"ok", response=True)
            assert peripheral.control_log == [b"ok"]

    run_async(body)


def test_peripheral_disconnect_fires_disconnected_callback() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral("IMU-D")
        await peripheral.start()
        fired = asyncio.Event()
        calls: list[BleakClient] = []

        def on_disconnect(client: BleakClient) -> None:
            calls.append(client)
            fired.set()

        client = BleakClient(peripheral.address, disconnected_callback=on_disconnect, backend=BumbleClient)
        await client.connect()
        await peripheral.wait_connected(2.0)
        assert await peripheral.disconnect()
        await asyncio.wait_for(fired.wait(), 2.0)
        assert calls == [client]
        assert not client.is_connected
        with pytest.raises(BleakError):
            await client.start_notify(DEFAULT_DATA_UUID, lambda *_: None)
        # the peripheral advertises again and accepts a new connection
        await client.connect()
        assert client.is_connected
        await client.disconnect()
        assert len(calls) == 2  # like BlueZ / WinRT, a local disconnect also reports

    run_async(body)


def test_connect_errors_and_timeouts() -> None:
    async def body() -> None:
        with pytest.raises(BleakDeviceNotFoundError):
            await BleakClient("D0:00:00:00:FF:FF", backend=BumbleClient, timeout=1.0).connect()

        first = VirtualPeripheral("IMU-T1")
        second = VirtualPeripheral("IMU-T2")
        await first.start()
        await second.start()
        async with BleakClient(first.address, backend=BumbleClient, timeout=5.0):
            # the peripheral stopped advertising once connected: a second connect times out ...
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await BleakClient(first.address, backend=BumbleClient, timeout=0.3).connect()
            assert time.monotonic() - started < 2.0
            # ... and does not leave a pending connection behind in the controller
            async with BleakClient(second.address, backend=BumbleClient, timeout=2.0) as other:
                assert other.is_connected
        with pytest.raises(NotImplementedError):
            await BleakClient(first.address, backend=BumbleClient).pair()

    run_async(body)
