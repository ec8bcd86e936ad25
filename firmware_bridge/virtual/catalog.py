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

from bumble.core import UUID, AdvertisingData

from ..devices import get_profile, is_touch_sdk_client_info
from ..protocols import imu_stream, touch_sdk
from .peripheral import FaultConfig, VirtualPeripheral
from .sources import SampleSeries, imu_stream_packets, touch_sdk_packets

#: The name forms :func:`toolkit.cli.replays.resolve_virtual` understands (for help texts).
NAME_FORMS = ("sine[:SECONDS], still[:SECONDS], sp-sw-har:sXX_YY, sp-sw-har:sXX, seglearn:INDEX, protocol, "
              "touch:<any of these>; wearing modifiers @right, @palmar, @rotDEG")


@dataclass
class VirtualDeviceSpec:
    """A resolved catalogue name: what to replay and in which profile."""

    name: str
    profile: Literal["imu-stream", "touch-sdk"]
    series: SampleSeries

    @property
    def advertised_name(self) -> str:
        return f"M3E-{self.name}"


class TouchSdkVirtualPeripheral(VirtualPeripheral):
    """A VirtualPeripheral that advertises the Touch SDK *interaction* service UUID while its GATT
    database holds the *protobuf* service, like the Wear OS app (only one service UUID fits the
    advertisement)."""

    def __init__(self, *args: object, advertised_service_uuid: str = touch_sdk.INTERACTION_SERVICE_UUID,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.advertised_service_uuid = advertised_service_uuid

    def advertising_data(self) -> bytes:
        return bytes(AdvertisingData([
            (AdvertisingData.Type.FLAGS, bytes([0x06])),
            (AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             UUID(self.advertised_service_uuid).to_bytes()),
            (AdvertisingData.Type.COMPLETE_LOCAL_NAME, self.name.encode("utf-8")),
        ]))


def spec_packets(spec: VirtualDeviceSpec, samples_per_packet: int = 5) -> list[tuple[float, bytes]]:
    """All ``(timestamp_s, packet)`` items of a spec, encoded in its profile's format."""
    if spec.profile == "touch-sdk":
        return list(touch_sdk_packets(spec.series, samples_per_packet))
    return list(imu_stream_packets(spec.series, samples_per_packet))


class _StartGate:
    """Holds a source back until the profile's start command is written to the control characteristic."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.started = asyncio.Event()
        self.stops = 0

    def on_control(self, data: bytes) -> None:
        if self.profile == "touch-sdk":
            if is_touch_sdk_client_info(data):
                self.started.set()
        elif data == imu_stream.CMD_START:
            self.started.set()
        elif data == imu_stream.CMD_STOP:
            self.stops += 1

    async def gate(self, items: Iterable[tuple[float, bytes]]) -> AsyncIterator[tuple[float, bytes]]:
        await self.started.wait()
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
    gate = _StartGate(spec.profile)
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
    "NAME_FORMS",
    "TouchSdkVirtualPeripheral",
    "VirtualDeviceSpec",
    "make_virtual_peripheral",
    "spec_packets",
    "start_virtual_peripherals",
]
