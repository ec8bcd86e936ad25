"""Fixtures of the training tests: a small simulated dataset and a tiny pretrained checkpoint (session-wide)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from toolkit.sim.pipeline import SimulationConfig, simulate_files
from toolkit.train.config import GridConfig, PretrainConfig

# one intra-op thread: on a busy 2-core machine two OpenMP threads per process can be 10x slower (measured)
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[2]
CLIPS = [
    REPO / "tests" / "fixtures" / "cmu" / "131_01_excerpt.bvh",
    REPO / "tests" / "fixtures" / "cmu" / "02_01_excerpt.amc",
]


@pytest.fixture(scope="session")
def sim_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate_files([str(c) for c in CLIPS], out, SimulationConfig(variants=2, seed=0), progress=False)
    return out


def tiny_pretrain_config(data: Path, out: Path, **kw) -> PretrainConfig:
    base = dict(data=(str(data),), out_dir=str(out), model="tiny", text_embeddings="hash", epochs=2, batch_size=4,
                device="cpu", progress=False, grid=GridConfig(hop_s=0.5))  # fmt: skip
    return PretrainConfig(**(base | kw))


@pytest.fixture(scope="session")
def tiny_checkpoint(sim_dataset, tmp_path_factory) -> Path:
    from toolkit.train.pretrain import run_pretrain

    res = run_pretrain(tiny_pretrain_config(sim_dataset, tmp_path_factory.mktemp("pre"), epochs=1), log=False)
    assert res.checkpoint is not None
    return res.checkpoint
