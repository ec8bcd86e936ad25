"""Registry of known BLE IMU device profiles: how to find, start and decode each kind of device.

A :class:`DeviceProfile` binds, for one kind of device:

* ``name``: the registry key (``imu-stream``, ``touch-sdk``, ``polar-pmd``, ``empatica-e4-ble``);
* ``match``: how to recognise it in a scan (:class:`~firmware_bridge.transport.DeviceProfileMatch`:
  advertised service UUID and / or local-name prefix);
* ``data_char_uuid``: the characteristic whose notifications carry the IMU packets;
* ``extra_notify_uuids``: further characteristics to subscribe to (e.g. Polar's control point, whose
  indications carry the start response with the scale FACTOR);
* ``start_commands``: what to write after subscribing, as ``(characteristic UUID, bytes)`` pairs built
  at connect time (a start command may contain the current time);
* ``decoder_factory``: a fresh stateful decoder per device.

==================  =========================================  ==========================================
profile             found by                                   start command (written after subscribing)
==================  =========================================  ==========================================
``imu-stream``      service ``dfe31000-...`` advertised        control ``dfe31002``: ``01`` (start)
``touch-sdk``       service ``008e74d0-...`` advertised        input ``f9d60372``: ``InputUpdate{clientInfo}``
``polar-pmd``       local name starts with ``Polar``          control point ``fb005c81``: ACC start, GYRO start
``empatica-e4-ble`` local name starts with ``Empatica E4``      ``3e71``: ``01 <u32 LE unix time>`` UNVERIFIED
==================  =========================================  ==========================================

Touch SDK start (from doublepointlab/touch-sdk-py ``watch_connector.py`` and touch-sdk-protobuf
``proto/watch_input.proto``): the client writes one serialized ``InputUpdate`` whose field 2
``clientInfo`` is a ``ClientInfo{1 appName, 2 deviceName, 4 os}`` (all strings) to the input
characteristic, THEN subscribes to the output (``start_before_subscribe``, the official order). While the
watch shows its approval dialog that write fails (ATT error; the watch still gets the info), so the error is
ignored (``start_write_errors_ok``). The watch then streams ``Update`` messages once the wearer approves, or
sends an Update with the DISCONNECT signal when the wearer declines (``needs_approval``:
:meth:`DeviceProfile.approval_state`; the session turns a decline into
:class:`~firmware_bridge.session.ConnectionDeclinedError`).

Names (touch-sdk-py ``gatt_scanner.py``): the watch's name is read from manufacturer data with company id
0xFFFF (UTF-8) first, then from the advertised local name (:func:`advertised_name`), so ``--device "Galaxy
Watch"`` finds a watch whose local name is empty or different.

Polar PMD start (Verity Sense defaults, see ``ble-facts.md``): ACC ``02 02`` + SAMPLE_RATE 52 Hz,
RESOLUTION 16 bit, RANGE 8 g, CHANNELS 3; GYRO ``02 05`` + 52 Hz, 16 bit, 2000 deg/s, 3 channels.
The sample rate reaches the decoder twice: the profile's decoder starts with the rates of its default start
commands (so a replayed recording has them), and every start command the session writes is handed to
:meth:`DeviceProfile.on_start_command` (``PolarPmdDecoder.apply_start_command``), as the SDK keeps the
settings a measurement was started with; the first frame of each stream then has device times.
A Polar H10 has no gyroscope and no 52 Hz ACC rate: it answers both with an error response
(status != 0, harmless); use :func:`polar_start_commands` with ``acc_rate_hz=50`` / ``gyro=False``
for an H10 (:func:`get_profile` ``("polar-pmd", ...)`` does not choose automatically).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bleak.uuids import normalize_uuid_str

from toolkit.device_profiles import REAL_PROFILES
from toolkit.errors import ConfigError

from .protocols import empatica_e4, imu_stream, polar_pmd, touch_sdk
from .protocols.base import Decoder
from .transport import DeviceProfileMatch, DiscoveredDevice

StartCommands = Callable[[], list[tuple[str, bytes]]]


def _no_commands() -> list[tuple[str, bytes]]:
    return []


@dataclass(frozen=True)
class DeviceProfile:
    """One kind of device: scan match, characteristics, start command and decoder.

    Attributes:
        name: registry key, e.g. ``"imu-stream"``.
        description: one line for listings.
        match: scan criteria (its ``label`` is ``name``).
        service_uuid: the GATT service holding ``data_char_uuid``.
        data_char_uuid: notify characteristic carrying the IMU packets.
        decoder_factory: returns a fresh decoder for one device's data characteristic.
        start_commands: returns the ``(char_uuid, bytes)`` writes to do after subscribing.
        control_char_uuid: the characteristic the start command goes to (None: no start command).
        extra_notify_uuids: other characteristics to subscribe to (their values are recorded, and
            responses such as Polar's start response are handed to :meth:`on_control_value`).
        verified: False for layouts nobody here could check against a real device.
        real_profile: the physical device's :class:`~toolkit.device_profiles.RealDeviceProfile` name (units, sign,
            axes, nominal rate) in :data:`toolkit.device_profiles.REAL_PROFILES`; None when there is none.
        start_before_subscribe: write the start commands after connecting and before subscribing (Touch SDK order).
        start_write_errors_ok: a failing start-command write is logged and ignored (Touch SDK approval dialog).
        needs_approval: the device must approve the connection after the start command; the session waits for
            :meth:`approval_state` to leave ``"pending"`` (Touch SDK).
    """

    name: str
    description: str
    match: DeviceProfileMatch
    service_uuid: str
    data_char_uuid: str
    decoder_factory: Callable[[], Decoder]
    start_commands: StartCommands = _no_commands
    control_char_uuid: str | None = None
    extra_notify_uuids: tuple[str, ...] = ()
    verified: bool = True
    notes: str = ""
    real_profile: str | None = None
    start_before_subscribe: bool = False
    start_write_errors_ok: bool = False
    needs_approval: bool = False

    def __post_init__(self) -> None:
        if self.real_profile is not None and self.real_profile not in REAL_PROFILES:
            raise ConfigError(f"BLE profile {self.name!r}: unknown real profile {self.real_profile!r} "
                              f"(known: {', '.join(REAL_PROFILES)})")

    def new_decoder(self) -> Decoder:
        """A fresh decoder (one per device and connection stream)."""
        return self.decoder_factory()

    def on_control_value(self, decoder: Decoder, char_uuid: str, data: bytes) -> None:
        """Hand a value from an extra notify characteristic to the decoder (Polar start response)."""
        if self.name == "polar-pmd" and isinstance(decoder, polar_pmd.PolarPmdDecoder) and data[:1] == b"\xf0":
            try:
                decoder.apply_start_response(polar_pmd.parse_cp_response(bytes(data)))
            except Exception:  # a malformed response must not stop the stream
                pass

    def on_start_command(self, decoder: Decoder, char_uuid: str, data: bytes) -> None:
        """Hand a start command the host wrote to the decoder (Polar: the SAMPLE_RATE of the stream settings)."""
        if isinstance(decoder, polar_pmd.PolarPmdDecoder):
            try:
                decoder.apply_start_command(bytes(data))
            except Exception:  # a command the decoder cannot read changes nothing
                pass

    def approval_state(self, decoder: Decoder) -> str:
        """``"approved"``, ``"declined"`` or ``"pending"`` (Touch SDK: read from the decoded Updates'
        signals); ``"approved"`` for profiles that need no approval."""
        if not self.needs_approval or not isinstance(decoder, touch_sdk.TouchSdkDecoder):
            return "approved"
        return "declined" if decoder.declined else "approved" if decoder.approved else "pending"


# --------------------------------------------------------------------------- start commands
def encode_touch_sdk_client_info(app_name: str = "multi3edge", device_name: str = "", os_name: str = "") -> bytes:
    """Serialized ``InputUpdate{clientInfo: ClientInfo{appName=1, deviceName=2, os=4}}`` (protobuf).

    Byte layout: ``12 <len> [0a <len> appName] [12 <len> deviceName] [22 <len> os]`` (field 2 of
    InputUpdate, wire type 2; inside, string fields 1, 2 and 4; empty strings omitted as in proto3).
    """
    def string_field(number: int, text: str) -> bytes:
        raw = text.encode("utf-8")
        return touch_sdk.write_varint((number << 3) | 2) + touch_sdk.write_varint(len(raw)) + raw if raw else b""

    info = string_field(1, app_name) + string_field(2, device_name) + string_field(4, os_name)
    return touch_sdk.write_varint((2 << 3) | 2) + touch_sdk.write_varint(len(info)) + info


def is_touch_sdk_client_info(data: bytes) -> bool:
    """True when ``data`` is an ``InputUpdate`` carrying ``clientInfo`` (field 2), as the watch app sees it."""
    try:
        return any(f == 2 and wt == touch_sdk.WT_LEN for f, wt, _ in touch_sdk.iter_fields(bytes(data)))
    except Exception:
        return False


def polar_start_commands(acc_rate_hz: int = 52, acc_range_g: int = 8, gyro: bool = True, gyro_rate_hz: int = 52,
                         gyro_range_dps: int = 2000) -> list[tuple[str, bytes]]:
    """PMD start commands (ACC, then GYRO) for the control point (see module docstring)."""
    out = [(polar_pmd.CONTROL_POINT_UUID, polar_pmd.build_start(
        polar_pmd.ACC, sample_rate=acc_rate_hz, resolution=16, range=acc_range_g, channels=3))]
    if gyro:
        out.append((polar_pmd.CONTROL_POINT_UUID, polar_pmd.build_start(
            polar_pmd.GYRO, sample_rate=gyro_rate_hz, resolution=16, range=gyro_range_dps, channels=3)))
    return out


def _polar_decoder() -> polar_pmd.PolarPmdDecoder:
    """A PMD decoder that knows the sample rates of the profile's default start commands."""
    decoder = polar_pmd.PolarPmdDecoder()
    for _, command in polar_start_commands():
        decoder.apply_start_command(command)
    return decoder


def advertised_name(found: DiscoveredDevice) -> str | None:
    """A scanned device's name as touch-sdk-py reads it (``gatt_scanner.py``): manufacturer data of company
    0xFFFF decoded as UTF-8 first, then the advertised local name, then the OS's name for the device."""
    raw = (found.advertisement.manufacturer_data or {}).get(0xFFFF)
    if raw:
        text = bytes(raw).decode("utf-8", errors="replace").strip("\x00").strip()
        if text:
            return text
    return found.advertisement.local_name or found.device.name


def name_matches(found: DiscoveredDevice, target: str) -> bool:
    """``target`` is the device's address, or a case-insensitive prefix of its name (:func:`advertised_name`)
    or of its advertised local name."""
    t = target.lower()
    names = {advertised_name(found), found.advertisement.local_name, found.device.name}
    return found.address.lower() == t or any((n or "").lower().startswith(t) for n in names if n)


def _imu_stream_start() -> list[tuple[str, bytes]]:
    return [(imu_stream.CONTROL_CHAR_UUID, imu_stream.CMD_START)]


def _touch_sdk_start() -> list[tuple[str, bytes]]:
    return [(touch_sdk.PROTOBUF_INPUT_UUID, encode_touch_sdk_client_info("multi3edge"))]


def _e4_start() -> list[tuple[str, bytes]]:
    return [(empatica_e4.BLE_COMMAND_CHAR_UUID, empatica_e4.build_ble_start_command(int(time.time())))]


# --------------------------------------------------------------------------- registry
PROFILES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        DeviceProfile(
            name="imu-stream",
            real_profile="imu-stream",
            description="Multi3Edge imu-stream GATT profile (watch app / firmware, acc+gyro int16, SI)",
            match=DeviceProfileMatch("imu-stream", service_uuid=imu_stream.SERVICE_UUID),
            service_uuid=imu_stream.SERVICE_UUID,
            data_char_uuid=imu_stream.DATA_CHAR_UUID,
            control_char_uuid=imu_stream.CONTROL_CHAR_UUID,
            decoder_factory=imu_stream.ImuStreamDecoder,
            start_commands=_imu_stream_start,
        ),
        DeviceProfile(
            name="touch-sdk",
            real_profile="wear-os-watch",
            description="Galaxy Watch 4+ / Wear OS with the Doublepoint Touch SDK app (protobuf Update)",
            match=DeviceProfileMatch("touch-sdk", service_uuid=touch_sdk.INTERACTION_SERVICE_UUID),
            service_uuid=touch_sdk.PROTOBUF_SERVICE_UUID,
            data_char_uuid=touch_sdk.PROTOBUF_OUTPUT_UUID,
            control_char_uuid=touch_sdk.PROTOBUF_INPUT_UUID,
            decoder_factory=touch_sdk.TouchSdkDecoder,
            start_commands=_touch_sdk_start,
            start_before_subscribe=True,
            start_write_errors_ok=True,
            needs_approval=True,
        ),
        DeviceProfile(
            name="polar-pmd",
            real_profile="polar-verity-sense",
            description="Polar Verity Sense / H10 (PMD service, ACC + GYRO frames)",
            match=DeviceProfileMatch("polar-pmd", name_prefix="Polar"),
            service_uuid=polar_pmd.SERVICE_UUID,
            data_char_uuid=polar_pmd.DATA_UUID,
            control_char_uuid=polar_pmd.CONTROL_POINT_UUID,
            extra_notify_uuids=(polar_pmd.CONTROL_POINT_UUID,),
            decoder_factory=_polar_decoder,
            start_commands=polar_start_commands,
            notes="start uses Verity Sense settings (52 Hz); an H10 needs polar_start_commands(50, gyro=False)",
        ),
        DeviceProfile(
            name="empatica-e4-ble",
            real_profile="empatica-e4",
            description="Empatica E4 direct BLE, ACC only (UNVERIFIED reverse-engineered layout, int8 x3)",
            match=DeviceProfileMatch("empatica-e4-ble", name_prefix="Empatica E4"),
            service_uuid=empatica_e4.BLE_SENSOR_SERVICE_UUID,
            data_char_uuid=empatica_e4.BLE_ACC_CHAR_UUID,
            control_char_uuid=empatica_e4.BLE_COMMAND_CHAR_UUID,
            decoder_factory=empatica_e4.E4BleAccDecoder,
            start_commands=_e4_start,
            verified=False,
            notes="UNVERIFIED: community reverse engineering; sources disagree on the ACC layout",
        ),
        DeviceProfile(  # not a BLE device: the E4 streaming server's TCP stream (firmware_bridge.e4_link)
            name="empatica-e4-server",
            real_profile="empatica-e4",
            description="Empatica E4 through Empatica's E4 streaming server (TCP, --e4-server HOST:PORT), ACC + tags",
            match=DeviceProfileMatch("empatica-e4-server", service_uuid=empatica_e4.TCP_STREAM_UUID),  # never heard
            service_uuid=empatica_e4.TCP_STREAM_UUID,
            data_char_uuid=empatica_e4.TCP_STREAM_UUID,
            decoder_factory=empatica_e4.E4LineDecoder,
            notes="the server's byte stream is recorded under a stand-in UUID; connect with firmware_bridge.e4_link",
        ),
    )
}


#: BLE profile -> real-device profile name, read from each profile's ``real_profile``.
BLE_TO_REAL_PROFILE: dict[str, str] = {n: p.real_profile for n, p in PROFILES.items() if p.real_profile is not None}


def profile_names() -> list[str]:
    """Names of the known profiles, in registry order."""
    return list(PROFILES)


def get_profile(name: str | DeviceProfile) -> DeviceProfile:
    """The profile called ``name`` (a profile passes through).

    Raises:
        ConfigError: unknown name; the message lists the known ones on one line.
    """
    if isinstance(name, DeviceProfile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown device profile {name!r} (known: {', '.join(PROFILES)})") from None


def real_profile_for(ble_profile: str) -> str:
    """The real-device profile name (:mod:`toolkit.device_profiles`) a BLE profile names; ConfigError if none."""
    profile = PROFILES.get(ble_profile)
    if profile is None or profile.real_profile is None:
        raise ConfigError(f"no calibration profile for BLE profile {ble_profile!r} "
                          f"(known: {', '.join(BLE_TO_REAL_PROFILE)})")
    return profile.real_profile


def scan_matches(names: list[str] | None = None) -> list[DeviceProfileMatch]:
    """Scan criteria of the given profiles (default: all), for :func:`firmware_bridge.transport.scan`."""
    return [get_profile(n).match for n in (names or list(PROFILES))]


def profile_for_match(match: DeviceProfileMatch) -> DeviceProfile:
    """The profile a scan match came from (by its label)."""
    return get_profile(match.label)


def recording_decoders(names: list[str] | None = None) -> Mapping[str, Callable[[], Decoder]]:
    """``data char UUID -> decoder factory`` of the profiles, for :func:`firmware_bridge.recording.decode_recording`."""
    return {normalize_uuid_str(get_profile(n).data_char_uuid): get_profile(n).decoder_factory
            for n in (names or list(PROFILES))}


__all__ = [
    "BLE_TO_REAL_PROFILE",
    "PROFILES",
    "DeviceProfile",
    "advertised_name",
    "encode_touch_sdk_client_info",
    "get_profile",
    "is_touch_sdk_client_info",
    "name_matches",
    "polar_start_commands",
    "profile_for_match",
    "profile_names",
    "real_profile_for",
    "recording_decoders",
    "scan_matches",
]
