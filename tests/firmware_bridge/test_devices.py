"""Device profile registry: lookup, scan criteria, start commands, decoders."""

from __future__ import annotations

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from firmware_bridge.devices import (
    PROFILES,
    encode_touch_sdk_client_info,
    get_profile,
    is_touch_sdk_client_info,
    polar_start_commands,
    profile_for_match,
    recording_decoders,
    scan_matches,
)
from firmware_bridge.protocols import empatica_e4, imu_stream, polar_pmd, touch_sdk
from toolkit.errors import ConfigError


def test_registry_names_and_lookup() -> None:
    assert list(PROFILES) == ["imu-stream", "touch-sdk", "polar-pmd", "empatica-e4-ble", "empatica-e4-server"]
    for name, profile in PROFILES.items():
        assert get_profile(name) is profile
        assert get_profile(profile) is profile
        assert profile.match.label == name
        assert profile_for_match(profile.match) is profile
        dec = profile.new_decoder()
        assert dec is not profile.new_decoder()  # a fresh decoder each time
        assert dec.decoded_packets == 0
    assert not get_profile("empatica-e4-ble").verified
    assert get_profile("imu-stream").verified


def test_unknown_profile_is_one_line_listing_known() -> None:
    with pytest.raises(ConfigError) as e:
        get_profile("polar-h10x")
    msg = str(e.value)
    assert "\n" not in msg and "polar-h10x" in msg
    for name in PROFILES:
        assert name in msg


def _adv(name: str | None, uuids: list[str]) -> AdvertisementData:
    return AdvertisementData(name, {}, {}, uuids, None, -60, ())


def test_scan_matches_recognise_each_kind() -> None:
    matches = scan_matches()
    dev = BLEDevice("AA:BB:CC:DD:EE:FF", None, None)

    def first(adv: AdvertisementData) -> str | None:
        return next((m.label for m in matches if m.matches(dev, adv)), None)

    assert first(_adv("watch", [imu_stream.SERVICE_UUID])) == "imu-stream"
    assert first(_adv("Galaxy Watch4", [touch_sdk.INTERACTION_SERVICE_UUID])) == "touch-sdk"
    assert first(_adv("Polar Sense B5C1D02F", ["0000180d-0000-1000-8000-00805f9b34fb"])) == "polar-pmd"
    assert first(_adv("Polar H10 12345678", [])) == "polar-pmd"
    assert first(_adv("Empatica E4 A01234", [])) == "empatica-e4-ble"
    assert first(_adv("Something", ["180f"])) is None


def test_start_commands() -> None:
    assert get_profile("imu-stream").start_commands() == [(imu_stream.CONTROL_CHAR_UUID, b"\x01")]
    (uuid, payload), = get_profile("touch-sdk").start_commands()
    assert uuid == touch_sdk.PROTOBUF_INPUT_UUID and is_touch_sdk_client_info(payload)
    (uuid, payload), = get_profile("empatica-e4-ble").start_commands()
    assert uuid == empatica_e4.BLE_COMMAND_CHAR_UUID and payload[0] == 1 and len(payload) == 5
    cmds = get_profile("polar-pmd").start_commands()
    assert [c[0] for c in cmds] == [polar_pmd.CONTROL_POINT_UUID] * 2
    acc, gyro = cmds[0][1], cmds[1][1]
    assert acc[:2] == bytes([polar_pmd.OP_START, polar_pmd.ACC]) and gyro[:2] == bytes([polar_pmd.OP_START, 5])
    settings = polar_pmd.parse_settings(acc[2:])
    assert settings["sample_rate"] == [52] and settings["resolution"] == [16] and settings["range"] == [8]
    assert settings["channels"] == [3]
    assert polar_pmd.parse_settings(gyro[2:])["range"] == [2000]
    h10 = polar_start_commands(acc_rate_hz=200, acc_range_g=8, gyro=False)
    assert len(h10) == 1 and polar_pmd.parse_settings(h10[0][1][2:])["sample_rate"] == [200]


def test_touch_sdk_client_info_wire_format() -> None:
    payload = encode_touch_sdk_client_info("app", "host", "Linux")
    (field, wt, inner), = list(touch_sdk.iter_fields(payload))
    assert (field, wt) == (2, touch_sdk.WT_LEN)
    assert [(f, v) for f, _, v in touch_sdk.iter_fields(inner)] == [(1, b"app"), (2, b"host"), (4, b"Linux")]
    assert encode_touch_sdk_client_info("a") == bytes([0x12, 3, 0x0A, 1]) + b"a"
    assert not is_touch_sdk_client_info(b"\x01")
    assert not is_touch_sdk_client_info(b"\xff\xff")


def test_polar_start_response_sets_factor() -> None:
    profile = get_profile("polar-pmd")
    dec = profile.new_decoder()
    # F0 op=02 type=02 status=0 more=0, then FACTOR TLV (05 01 float32 LE 0.5)
    response = bytes([0xF0, 0x02, 0x02, 0x00, 0x00, 0x05, 0x01]) + b"\x00\x00\x00\x3f"
    profile.on_control_value(dec, polar_pmd.CONTROL_POINT_UUID, response)
    assert dec.factors[polar_pmd.ACC] == pytest.approx(0.5)
    profile.on_control_value(dec, polar_pmd.CONTROL_POINT_UUID, b"\xf0")  # malformed: ignored


def test_recording_decoders_cover_every_data_characteristic() -> None:
    decoders = recording_decoders()
    assert set(decoders) == {p.data_char_uuid for p in PROFILES.values()}
    assert isinstance(decoders[imu_stream.DATA_CHAR_UUID](), imu_stream.ImuStreamDecoder)
