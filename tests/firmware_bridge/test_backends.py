"""Backend choice in one function (compare bleak's tests/test_platform_detection.py), recorded in recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.backends import BACKEND_IDS, backend_id_of, get_backend
from firmware_bridge.backends.bumble_backend import BumbleClient, BumbleScanner
from firmware_bridge.connect import BluetoothUnavailableError, BluetoothUnavailableReason, bluetooth_error
from firmware_bridge.playback import backend_of
from firmware_bridge.recording import read_recording
from toolkit.cli.record import main as record_main
from toolkit.errors import Multi3EdgeError


def test_platform_backend_lets_bleak_choose() -> None:
    b = get_backend()
    assert (b.id, b.client, b.scanner) == ("platform", None, None)
    assert backend_id_of(None) == "platform"


def test_virtual_backend_is_the_bumble_radio() -> None:
    b = get_backend(virtual=True)
    assert (b.id, b.client, b.scanner) == ("virtual", BumbleClient, BumbleScanner)
    assert backend_id_of(BumbleClient) == "virtual"
    assert set(BACKEND_IDS) == {"platform", "virtual"}


def test_a_recording_says_which_backend_made_it(tmp_path: Path) -> None:
    out = tmp_path / "rec.m3erec"
    assert record_main(["--virtual", "sine:1", "--speed", "4", "--out", str(out), "--quiet"]) == 0
    assert backend_of(read_recording(out)) == "virtual"


@pytest.mark.parametrize("error, reason", [
    (OSError("No Bluetooth adapters found."), BluetoothUnavailableReason.NO_ADAPTER),
    (OSError("Bluetooth device is turned off"), BluetoothUnavailableReason.POWERED_OFF),
    (PermissionError("org.bluez.Error.NotPermitted"), BluetoothUnavailableReason.PERMISSION_DENIED),
    (RuntimeError("something else"), BluetoothUnavailableReason.UNKNOWN),
])
def test_bluetooth_unavailable_carries_a_reason(error: BaseException, reason: BluetoothUnavailableReason) -> None:
    e = bluetooth_error(error)
    assert isinstance(e, BluetoothUnavailableError) and isinstance(e, Multi3EdgeError)
    assert e.reason is reason and "--virtual" in str(e)
