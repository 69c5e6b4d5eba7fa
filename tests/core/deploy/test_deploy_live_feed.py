"""The `jetson://` source: a device running live.py behind the loopback sshd, its results streamed back over SSH
(an exec channel; nothing listens on the device) and handed out as frames carrying the device's status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_testkit import SshServer, live_device, write_video

from core.audit.recorder import AuditRecorder, VerdictContext
from core.audit.records import ModelIdentity
from core.audit.store import AuditStore
from core.deploy.live_feed import JetsonSource, open_jetson_source, parse_jetson_uri
from core.errors import InputError
from core.jobs import CancelToken
from core.sources.base import RUNNING, DeviceFrame, SourceStatus
from core.sources.live import FrameResult, LiveSettings, inspect_stream


def test_frames_from_the_device_reach_the_source(sshd: SshServer, bundle: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "line.avi", frames=20)
    with live_device(sshd, bundle, tmp_path / "device", f"file://{video}"):
        uri = (f"jetson://{sshd.user}@{sshd.host}:{sshd.port}{tmp_path / 'device'}?key={sshd.client_key}"
               f"&known_hosts={sshd.known_hosts}")
        source = open_jetson_source(uri)
        statuses = []
        assert isinstance(source, JetsonSource) and "inspected on the device" in source.description
        token = CancelToken()
        results = []
        stream = inspect_stream(None, source, LiveSettings(threshold=1.0), token)  # no model here: the device's
        for event in stream:
            if isinstance(event, SourceStatus):
                statuses.append(event)
            if isinstance(event, FrameResult):
                results.append(event)
                if len(results) == 3:
                    token.cancel()
        assert len(results) == 3 and all(isinstance(r.frame, DeviceFrame) for r in results)
        device = results[-1].frame.device
        assert device["state"] == "running" and device["release"] == Path(device["bundle"]).resolve().name
        image = results[-1].frame.image
        assert image.shape == (270, 480, 3) and image.std() > 10  # the device's window, down-scaled
        assert results[-1].score == device["last"]["score"] and results[-1].threshold == 0.5
        assert results[-1].timings.inference_ms == device["latency_ms"]["engine"] > 0
        assert any(s.state == RUNNING and "watching live inspection" in s.message for s in statuses)
    # The PC's audit trail records the device's verdicts under the bundle the device runs
    recorder = AuditRecorder(tmp_path / "audit.sqlite")
    for result in results:
        recorder.record(result, VerdictContext(uri, ModelIdentity("", "", "device")))
    recorder.close()
    with AuditStore(tmp_path / "audit.sqlite") as store:
        rows = store.verdicts()
    manifest = json.loads((bundle / "manifest.json").read_text())
    expected = (manifest["files"]["model.onnx"], manifest["precision"])
    assert len(rows) == 3 and {(row.model.sha256, row.model.precision) for row in rows} == {expected}
    assert rows[0].model.path.startswith(f"{sshd.host}:")
    assert sorted(row.score for row in rows) == sorted(result.score for result in results)


def test_uri_names_login_port_folder_and_key(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("x")
    target, folder = parse_jetson_uri(f"jetson://nvidia@10.0.0.7:2222/~/demo?key={key}")
    assert (target.host, target.user, target.port, target.key_path, folder) == ("10.0.0.7", "nvidia", 2222, key,
                                                                               "~/demo")
    assert parse_jetson_uri("jetson://nvidia@jetson.local")[1] == "~/inspection-station"
    with pytest.raises(InputError, match="unknown option 'pasword'"):
        parse_jetson_uri("jetson://jetson.local?pasword=x")
    with pytest.raises(InputError, match="SSH key file not found"):
        parse_jetson_uri(f"jetson://jetson.local?key={tmp_path / 'none'}")
