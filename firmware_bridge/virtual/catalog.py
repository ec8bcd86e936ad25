"""Virtual devices: a :class:`~firmware_bridge.virtual.sources.SampleSeries`, a device profile, a peripheral.

The names below (``--virtual NAME``) are resolved into a :class:`VirtualDeviceSpec` by the command layer
(:func:`toolkit.cli.replays.resolve_virtual`: it finds the datasets); this module only serves specs.

Names
=====
======================  =========================================================================
``sine``                generated: gravity on +Y plus 1 Hz sines, 100 Hz, 60 s (``sine:SECONDS`` to
                        choose the length)
``still``               generated: lying face up, 100 Hz, 60 s (``still:SECONDS``)
``sp-sw-har:sXX_YY``    the real sp-sw-har watch CSV of subject XX, execution YY (e.g. ``s05_03``),
                        replayed with its real timestamps
``seglearn:INDEX``      recording INDEX (0..139) of the seglearn Apple Watch set (converted .npz),
                        acc converted iOS g -> Android m/s^2
``sp-sw-har:sXX``       every watch recording of subject XX back to back on one device clock, 2 s of
                        silence between recordings (no model window spans two of them)
``seglearn:INDEX``      (see above)
``protocol``            generated: a left dorsal watch doing the mount-calibration protocol of
                        :mod:`calibration.procedure` (arm hanging, raised forward palm down, lowered),
                        with a sensor bias and noise, 100 Hz
``touch:<name>``        any of the above served as the Doublepoint Touch SDK Wear OS app would
                        (protobuf ``Update`` on the Touch SDK GATT service) instead of imu-stream
``touch-approval:<n>``  a Touch SDK watch showing its approval dialog: the first client-info write
                        fails with ATT error 0x01 (as touch-sdk-py's comments describe), data flows
                        :data:`APPROVAL_DELAY_S` s later (the wearer approves)
``touch-declines:<n>``  a Touch SDK watch whose wearer declines: the client-info write fails, then
                        one ``Update{signals: [DISCONNECT]}`` without frames, then nothing
======================  =========================================================================

Wearing modifiers, appended with ``@`` (e.g. ``sp-sw-har:s05_03@right``, ``protocol@right@palmar``): the
recordings are LEFT dorsal watches; ``@right`` mirrors the motion onto the right wrist, ``@palmar`` turns the
watch to the inner wrist, ``@rotDEG`` turns it DEG degrees about the forearm
(:func:`~firmware_bridge.virtual.sources.worn`). A :class:`toolkit.mount.Mount` with the same settings (or the
calibration procedure) undoes them.

Every virtual device is a :class:`~firmware_bridge.virtual.peripheral.VirtualPeripheral` on the
in-process bumble radio, advertising ``M3E-<name>`` and the profile's service UUID, serving the
profile's data (notify) and control (write) characteristics, and paced by the recording's
timestamps (``pacing="timestamps"``). Like the real device, it starts streaming only after the
profile's start command was written (imu-stream: ``01`` on the control characteristic; Touch SDK:
an ``InputUpdate`` with ``clientInfo`` on the input characteristic). A replay ends when its
recording ends (the link stays up).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Literal

from bumble import att
from bumble.core import UUID, AdvertisingData

from ..devices import get_profile, is_touch_sdk_client_info
from ..protocols import imu_stream, touch_sdk
from .peripheral import FaultConfig, VirtualPeripheral
from .sources import SampleSeries, imu_stream_packets, touch_sdk_packets

#: The name forms :func:`toolkit.cli.replays.resolve_virtual` understands (for help texts).
NAME_FORMS = ("sine[:SECONDS], still[:SECONDS], sp-sw-har:sXX_YY, sp-sw-har:sXX, seglearn:INDEX, protocol, "
              "touch:<any of these> (touch-approval:, touch-declines: for the watch's approval dialog); "
              "file:PATH (a trial file's raw device values; the receiver converts them with --profile); "
              "wearing modifiers @right, @palmar, @rotDEG")

#: Touch SDK watch behaviours a virtual watch can show (see the table above).
WatchMode = Literal["normal", "approval", "declines"]
#: Name prefix -> (profile, watch mode).
PROFILE_PREFIXES: dict[str, tuple[Literal["imu-stream", "touch-sdk"], WatchMode]] = {
    "touch:": ("touch-sdk", "normal"),
    "touch-approval:": ("touch-sdk", "approval"),
    "touch-declines:": ("touch-sdk", "declines"),
}
#: Seconds between the failed client-info write and the approval / the DISCONNECT signal of a virtual watch.
APPROVAL_DELAY_S = 1.0


def split_profile_prefix(base: str) -> tuple[Literal["imu-stream", "touch-sdk"], WatchMode, str]:
    """``"touch-declines:sine"`` -> ``("touch-sdk", "declines", "sine")``; no prefix: ``("imu-stream", "normal",
    base)``."""
    for prefix, (profile, mode) in PROFILE_PREFIXES.items():
        if base.startswith(prefix):
            return profile, mode, base[len(prefix):]
    return "imu-stream", "normal", base


@dataclass
class VirtualDeviceSpec:
    """A resolved catalogue name: what to replay and in which profile."""

    name: str
    profile: Literal["imu-stream", "touch-sdk"]
    series: SampleSeries
    watch_mode: WatchMode = "normal"
    """Touch SDK only: ``"approval"`` (dialog, then approved) or ``"declines"`` (dialog, then DISCONNECT)."""
    approval_delay_s: float = APPROVAL_DELAY_S

    @property
    def advertised_name(self) -> str:
        return f"M3E-{self.name}"


class TouchSdkVirtualPeripheral(VirtualPeripheral):
    """A VirtualPeripheral that advertises the Touch SDK *interaction* service UUID while its GATT
    database holds the *protobuf* service, like the Wear OS app (only one service UUID fits the
    advertisement)."""

    def __init__(self, *args: object, advertised_service_uuid: str = touch_sdk.INTERACTION_SERVICE_UUID,
                 manufacturer_name: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.advertised_service_uuid = advertised_service_uuid
        self.manufacturer_name = manufacturer_name
        """Also advertised as manufacturer data of company 0xFFFF (where touch-sdk-py reads the name first)."""

    def advertising_data(self) -> bytes:
        fields = [
            (AdvertisingData.Type.FLAGS, bytes([0x06])),
            (AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             UUID(self.advertised_service_uuid).to_bytes()),
            (AdvertisingData.Type.COMPLETE_LOCAL_NAME, self.name.encode("utf-8")),
        ]
        if self.manufacturer_name:
            fields.append((AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA,
                           (0xFFFF).to_bytes(2, "little") + self.manufacturer_name.encode("utf-8")))
        return bytes(AdvertisingData(fields))


def spec_packets(spec: VirtualDeviceSpec, samples_per_packet: int = 5) -> list[tuple[float, bytes]]:
    """All ``(timestamp_s, packet)`` items of a spec, encoded in its profile's format."""
    if spec.profile == "touch-sdk":
        return list(touch_sdk_packets(spec.series, samples_per_packet))
    return list(imu_stream_packets(spec.series, samples_per_packet))


class _StartGate:
    """Holds a source back until the profile's start command is written to the control characteristic.

    Touch SDK watch modes: ``"approval"`` / ``"declines"`` answer the first client-info write with ATT error
    0x01 (Invalid Handle: what BlueZ reports to touch-sdk-py while the dialog shows) but keep the info; after
    ``delay_s`` the source flows (approval) or one frameless ``Update{signals: [DISCONNECT]}`` is sent instead
    (declines). ``write_errors`` counts the rejected writes.
    """

    def __init__(self, profile: str, watch_mode: WatchMode = "normal", delay_s: float = APPROVAL_DELAY_S) -> None:
        self.profile = profile
        self.watch_mode: WatchMode = watch_mode if profile == "touch-sdk" else "normal"
        self.delay_s = delay_s
        self.started = asyncio.Event()
        self.stops = 0
        self.write_errors = 0
        self._dialog_shown = False

    def on_control(self, data: bytes) -> None:
        if self.profile == "touch-sdk":
            if not is_touch_sdk_client_info(data):
                return
            if self.watch_mode == "normal":
                self.started.set()
            elif not self._dialog_shown:  # the dialog opens: the info arrived, the write is answered with an error
                self._dialog_shown = True
                asyncio.get_running_loop().call_later(self.delay_s, self.started.set)
                self.write_errors += 1
                raise att.ATT_Error(error_code=att.ATT_INVALID_HANDLE_ERROR, message="approval dialog shown")
        elif data == imu_stream.CMD_START:
            self.started.set()
        elif data == imu_stream.CMD_STOP:
            self.stops += 1

    async def gate(self, items: Iterable[tuple[float, bytes]]) -> AsyncIterator[tuple[float, bytes]]:
        await self.started.wait()
        if self.watch_mode == "declines":
            yield 0.0, touch_sdk.encode_signals([touch_sdk.SIGNAL_DISCONNECT])
            return
        for item in items:
            yield item


def make_virtual_peripheral(
    spec: VirtualDeviceSpec,
    *,
    samples_per_packet: int = 5,
    speed: float = 1.0,
    faults: FaultConfig | None = None,
    advertised_name: str | None = None,
    wait_for_start: bool = True,
    packets: list[tuple[float, bytes]] | None = None,
    record: bool = False,
) -> VirtualPeripheral:
    """A (not yet started) peripheral streaming ``spec`` in its profile's format, paced by timestamps."""
    profile = get_profile(spec.profile)
    items = packets if packets is not None else spec_packets(spec, samples_per_packet)
    gate = _StartGate(spec.profile, spec.watch_mode, spec.approval_delay_s)
    source = gate.gate(items) if wait_for_start else items
    cls = TouchSdkVirtualPeripheral if spec.profile == "touch-sdk" else VirtualPeripheral
    assert profile.control_char_uuid is not None
    peripheral = cls(
        advertised_name or spec.advertised_name, source=source, service_uuid=profile.service_uuid,
        data_uuid=profile.data_char_uuid, control_uuid=profile.control_char_uuid, pacing="timestamps",
        speed=speed, faults=faults, on_control=gate.on_control, record=record,
    )
    peripheral.start_gate = gate  # type: ignore[attr-defined]
    peripheral.virtual_spec = spec  # type: ignore[attr-defined]
    return peripheral


async def start_virtual_peripherals(specs: Iterable[VirtualDeviceSpec], **kwargs: object) -> list[VirtualPeripheral]:
    """Start one peripheral per spec (repeated names get ``#2``, ``#3`` in their advertised name).

    ``kwargs`` go to :func:`make_virtual_peripheral` (speed, faults). Finding a spec by name (``--virtual NAME``)
    is the command layer's job: :func:`toolkit.cli.replays.resolve_virtual`.
    """
    seen: dict[str, int] = {}
    out = []
    for spec in specs:
        seen[spec.advertised_name] = seen.get(spec.advertised_name, 0) + 1
        k = seen[spec.advertised_name]
        adv = spec.advertised_name if k == 1 else f"{spec.advertised_name}#{k}"
        p = make_virtual_peripheral(spec, advertised_name=adv, **kwargs)  # type: ignore[arg-type]
        await p.start()
        out.append(p)
    return out


__all__ = [
    "APPROVAL_DELAY_S",
    "NAME_FORMS",
    "PROFILE_PREFIXES",
    "TouchSdkVirtualPeripheral",
    "VirtualDeviceSpec",
    "make_virtual_peripheral",
    "spec_packets",
    "split_profile_prefix",
    "start_virtual_peripherals",
]
