"""What export determinism holds (issue 14 item 10): lowering fixed weights gives the same .pte bytes in separate
processes, so a different .pte on another machine comes from the weights (float training arithmetic differs between
CPUs and thread counts), not from serialisation; across machines only the predictions are comparable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("executorch.exir", reason="export stack not installed")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import hashlib, json, sys
import torch
from export.exporters import executorch as et
from export.student import EdgeStudent, StudentConfig
b = "toolkit/default_model/edge/watch"
cfg = StudentConfig(**json.load(open(f"{b}/student.json")))
m = EdgeStudent(cfg)
m.load_state_dict(torch.load(f"{b}/student.pt", weights_only=True))
et.export(m.eval(), torch.zeros(1, 60, 6), sys.argv[1], int8=False)
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
"""


@pytest.mark.slow
def test_lowering_fixed_weights_is_byte_identical_across_processes(tmp_path: Path) -> None:
    digests = []
    for i in range(2):
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / f"s{i}.pte")], cwd=REPO,
                              capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1",
                                                                               "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        digests.append(proc.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1]
