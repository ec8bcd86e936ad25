"""Checkpoints: weights-only payloads, sha256 sidecar, refusal of tampered or unverifiable files."""

from __future__ import annotations

import json

import pytest
import torch

from toolkit.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, sha256_file


def _save(tmp_path):
    model = torch.nn.Linear(3, 2)
    return model, save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "model_config": {"d": 3},
                                                       "extra": {"names": ["a", "b"], "t": (1, 2.5, None)}},
                                  kind="classifier", config={"lr": 0.1}, metrics={"f1": 0.5})  # fmt: skip


def test_round_trip_and_sidecar(tmp_path):
    model, path = _save(tmp_path)
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["sha256"] == sha256_file(path) and side["config"] == {"lr": 0.1} and side["metrics"]["f1"] == 0.5
    assert "git_commit" in side and side["kind"] == "classifier"
    ck = load_checkpoint(path, kind="classifier")
    for k, v in model.state_dict().items():
        assert torch.equal(ck.payload["model"][k], v)
    assert ck.payload["extra"]["names"] == ["a", "b"]


def test_hash_mismatch_is_refused(tmp_path):
    _, path = _save(tmp_path)
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(CheckpointError, match="differs from its sidecar") as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value)


def test_missing_sidecar_and_wrong_kind_are_refused(tmp_path):
    _, path = _save(tmp_path)
    with pytest.raises(CheckpointError, match="expected pretrain"):
        load_checkpoint(path, kind="pretrain")
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="no sidecar"):
        load_checkpoint(path)


def test_arbitrary_objects_never_enter_a_checkpoint(tmp_path):
    class Opaque:
        pass

    with pytest.raises(TypeError, match="cannot go into a weights-only checkpoint"):
        save_checkpoint(tmp_path / "x.pt", {"model": {}, "extra": {"o": Opaque()}}, kind="classifier")
    assert not (tmp_path / "x.pt").exists()


def test_pickled_object_file_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "multi3edge-checkpoint", "obj": object()}, path)
    path.with_suffix(".json").write_text(json.dumps({"sha256": sha256_file(path)}))
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        load_checkpoint(path)
