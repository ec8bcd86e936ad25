"""The E4 streaming server as a session source: protocol additions (tags, device lists, turned off), the virtual E4
server, events in recordings, device-gone handling, addresses and output clean-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.connect import output_on_success
from firmware_bridge.e4_link import (
    E4DeviceGoneError,
    E4ServerDevice,
    E4ServerUnreachableError,
    parse_server_address,
    probe_server,
)
from firmware_bridge.playback import open_recording
from firmware_bridge.protocols import empatica_e4 as e4
from firmware_bridge.protocols.base import DecodeError
from firmware_bridge.recording import RecordingWriter, events_of, read_recording
from firmware_bridge.session import DeviceSpec, StreamSession
from firmware_bridge.transport import RetryPolicy
from firmware_bridge.virtual.e4_server import VirtualE4Server, generate_wrist_activity, series_to_e4_counts
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2


def test_tag_line_has_no_value_and_turned_off_is_a_status():
    # "Data Streaming Packets": E4_Tag 123345627891.123 (a timestamp only)
    assert e4.parse_line("E4_Tag 123345627891.123") == e4.E4Data("tag", 123345627891.123, ())
    with pytest.raises(DecodeError):
        e4.parse_line("E4_Acc 1.0")  # other streams still need values
    # "Message Protocol", System Messages
    st = e4.parse_line("R device 9ff167 turned off via button")
    assert st == e4.E4Status("turned_off", "9ff167") and "turned off" in st.describe()
    # the page's E4_Hr example uses decimal commas
    assert e4.parse_line("E4_Hr 1525769423,37371 142,2156") == e4.E4Data("hr", 1525769423.37371, (142.2156,))


def test_device_lists_as_documented():
    r = e4.parse_line("R device_list 2 | 9ff167 Empatica_E4 | 740163 Empatica_E4")
    assert e4.parse_device_list(r) == [e4.E4DeviceInfo("9ff167", "Empatica_E4"), e4.E4DeviceInfo("740163",
                                                                                                "Empatica_E4")]
    r = e4.parse_line("R device_discover_list 2 | 9ff167 Empatica_E4 allowed | 740163 Empatica_E4 not_allowed")
    assert [d.allowed for d in e4.parse_device_list(r)] == [True, False]
    assert e4.parse_device_list(e4.parse_line("R device_list 0")) == []
    with pytest.raises(DecodeError):
        e4.parse_device_list(e4.parse_line("R device_list 2 | 9ff167 Empatica_E4"))


def test_server_address():
    assert parse_server_address("10.0.0.5") == parse_server_address("10.0.0.5:28000")
    assert parse_server_address("[::1]:1234").port == 1234 and str(parse_server_address("[::1]:1234")) == "[::1]:1234"
    for bad in ("", ":28000", "h:0", "h:70000", "h:x", "[::1"):
        with pytest.raises(ConfigError):
            parse_server_address(bad)


def test_virtual_counts_invert_the_profile():
    """The virtual E4 expresses a watch-frame series in E4 axes: the profile's conversion gives it back."""
    series = generate_wrist_activity(60.0, 32.0, seed=1)
    counts = series_to_e4_counts(series)
    assert counts.shape == (60 * 32, 3)
    profile = get_real_profile("empatica-e4")
    back = counts * (G_MS2 / 64.0) @ np.asarray(profile.axes_to_watch).T  # v_watch = A v_device
    m = len(back)
    assert np.abs(back - series.acc[:m]).max() < 0.5 * G_MS2 / 64.0 + 1e-9  # half a count
    # physics: a resting forearm reads 1 g
    still = series.labels[:m] != "WALKING"
    assert np.allclose(np.linalg.norm(back[still], axis=1), G_MS2, atol=0.1 * G_MS2)


async def _session(server: VirtualE4Server, path: Path, wait_s: float = 10.0, until_error: bool = False,
                   retry: RetryPolicy | None = None):
    devices = await probe_server(parse_server_address(server.address), 2.0)
    dev = devices.connected[0]
    spec = DeviceSpec(E4ServerDevice(parse_server_address(server.address), dev.device_id), "empatica-e4-server")
    events, batches = [], []
    session = StreamSession([spec], backend_id="virtual", record_to=path, on_batch=batches.append, retry=retry)
    session.add_event_callback(events.append)
    await session.start()
    await session.wait_connected(3.0)
    waiter = asyncio.ensure_future(server.finished.wait())
    deadline = asyncio.get_running_loop().time() + wait_s
    while ((until_error or not waiter.done()) and session.error is None
           and asyncio.get_running_loop().time() < deadline):
        await asyncio.sleep(0.05)
    waiter.cancel()
    await asyncio.sleep(0.3)
    await session.stop()
    return session, events, batches


def test_virtual_e4_tags_status_and_recording(tmp_path):
    async def go():
        series = generate_wrist_activity(6.0)
        async with VirtualE4Server(series, speed=8.0, tags_s=(1.0, 4.0), lose_link_at_s=2.0, lost_for_s=1.0) as srv:
            session, events, batches = await _session(srv, tmp_path / "v.m3erec")
            return srv, session, events, batches

    srv, session, events, batches = asyncio.run(asyncio.wait_for(go(), 30))
    assert srv.received[-4:] == ["device_connect a0e4f1", "device_subscribe acc ON", "device_subscribe tag ON",
                                 "device_disconnect"]
    kinds = [(e.event["event"], e.event.get("status")) for e in events]
    assert kinds == [("connected", None), ("tag", None), ("device-status", "lost"), ("device-status",
                                                                                      "reestablished"), ("tag", None)]
    n = sum(len(b) for b in batches)
    assert n == srv.sent_samples == 6 * 32 - 32  # one second of link loss: no data
    t = np.concatenate([b.batch.device_time_s for b in batches])
    assert np.isclose(np.diff(t).max(), 1 + 1 / 32)  # the hole, on the server's clock
    assert session.error is None and session.counters()["a0e4f1"]["reconnects"] == 1
    contents = read_recording(tmp_path / "v.m3erec")
    assert [e.kind for e in events_of(contents, ("tag", "device-status"))] == ["tag", "device-status",
                                                                              "device-status", "tag"]
    replay = open_recording(tmp_path / "v.m3erec")
    assert len(replay.streams["a0e4f1"]) == n and replay.describe() == ""


@pytest.mark.parametrize("mode", ["turned-off", "link-never-back"])
def test_device_gone(tmp_path, mode):
    """Turned off with its button, or a lost link the server does not re-establish within give_up_after_s (3 x
    the connect timeout): the session's error says why, a device-gone event is recorded."""
    async def go():
        kw = {"turn_off_at_s": 1.0} if mode == "turned-off" else {"lose_link_at_s": 1.0, "lost_for_s": None}
        async with VirtualE4Server(generate_wrist_activity(30.0), speed=4.0, **kw) as srv:
            return await _session(srv, tmp_path / "g.m3erec", wait_s=10.0, until_error=True,
                                  retry=RetryPolicy(connect_timeout=0.5))

    session, events, _ = asyncio.run(asyncio.wait_for(go(), 60))
    assert isinstance(session.error, E4DeviceGoneError)
    assert ("turned off" if mode == "turned-off" else "not re-established within 1.5 s") in str(session.error)
    assert events[-1].event["event"] == "device-gone"
    kinds = [e.kind for e in events_of(read_recording(tmp_path / "g.m3erec"))]
    assert "device-gone" in kinds and "device-status" in kinds


def test_unreachable_server():
    async def go():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        await probe_server(parse_server_address(f"127.0.0.1:{port}"), 1.0)

    with pytest.raises(E4ServerUnreachableError, match="connection refused"):
        asyncio.run(go())


def test_output_on_success_removes_empty_outputs(tmp_path):
    path = tmp_path / "a" / "b" / "x.m3erec"
    with pytest.raises(RuntimeError):
        with output_on_success(path):
            with RecordingWriter(path) as w:
                w.write_event("", '{"event": "session-start"}')
            raise RuntimeError("could not connect")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):  # a recording holding data is kept
        with output_on_success(path):
            with RecordingWriter(path) as w:
                w.write("d", e4.TCP_STREAM_UUID, b"E4_Acc 1 2 3 4\r\n")
            raise RuntimeError("later failure")
    assert path.is_file()
