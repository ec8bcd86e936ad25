"""int8 parity thresholds on the committed default model's watch bundle (toolkit/default_model/edge/watch).

The bundle was made by ``edge-export --int8 --checkpoint toolkit/default_model`` (reports/export.md). Each int8 artefact
is loaded in its own runtime (after its manifest hash check) and compared with the float student on the
held-out subjects' windows that neither teacher, student nor calibration saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from export.manifest import load_artefact, read_manifest, verify_file
from export.student import EdgeStudent, StudentConfig

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "toolkit" / "default_model" / "edge" / "watch"
WINDOWS = REPO / "toolkit" / "default_model" / "windows.npz"


@pytest.fixture(scope="module")
def held_out():
    manifest = read_manifest(BUNDLE)
    with np.load(WINDOWS, allow_pickle=False) as z:
        keep = np.isin(z["subject"], manifest["metrics"]["eval_subjects"])
        x, y = z["x"][keep], z["y"][keep]
    cfg = StudentConfig(**json.loads((BUNDLE / "student.json").read_text()))
    student = EdgeStudent(cfg)
    student.load_state_dict(torch.load(verify_file(BUNDLE, "student.pt", manifest), weights_only=True))
    spec = manifest["input"]["normalization"]
    xn = ((x - np.asarray(spec["mean"])) / np.asarray(spec["std"])).astype(np.float32)
    with torch.no_grad():
        out = student.eval()(torch.from_numpy(xn))
    logits = (out[0] if isinstance(out, tuple) else out).numpy()
    return x, y, logits


@pytest.mark.parametrize("target", ["pte", "tflite", "onnx"])
def test_int8_artefact_matches_float_student(held_out, target):
    x, y, float_logits = held_out
    assert len(y) >= 400  # the five held-out subjects
    art = load_artefact(BUNDLE, target, "int8")
    int8_logits = np.stack([art.classify(w)[1] for w in x])
    agreement = float((int8_logits.argmax(1) == float_logits.argmax(1)).mean())
    f1_float = f1_score(y, float_logits.argmax(1), average="macro")
    f1_int8 = f1_score(y, int8_logits.argmax(1), average="macro")
    assert agreement >= 0.99, agreement  # measured 0.995-0.998
    assert abs(f1_int8 - f1_float) <= 0.01, (f1_int8, f1_float)
    assert f1_int8 > 0.8  # held-out subjects; the teacher scores 0.786, the float watch student 0.829


def test_pte_is_small_and_one_partition():
    manifest = read_manifest(BUNDLE)
    pte = next(a for a in manifest["artefacts"] if a["target"] == "pte" and a["precision"] == "int8")
    assert (BUNDLE / pte["file"]).stat().st_size <= 150 * 1024
    assert pte["export"]["partitions"] == 1 and not pte["export"]["non_delegated_ops"]
