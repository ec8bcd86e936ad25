"""Launch pretraining in N local processes without torchrun (tests, benchmarks).

:func:`spawn_pretrain` starts ``nproc`` processes with :func:`torch.multiprocessing.spawn`, gives each the
environment torchrun would (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR=127.0.0.1``, a free
``MASTER_PORT``), runs :func:`toolkit.train.pretrain.run_pretrain` and collects from every rank a JSON record
(parameter digest, history). The production path is ``torchrun --nproc_per_node N -m toolkit.cli.pretrain``.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

from toolkit.train.config import PretrainConfig
from toolkit.train.pretrain import parameter_digest, run_pretrain
from toolkit.train.runtime import cleanup_distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, cfg_dict: dict[str, Any], result_dir: str, threads: int) -> None:

    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})  # fmt: skip
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        res = run_pretrain(PretrainConfig.from_dict(cfg_dict), log=False)
        rec = {"rank": rank, "digest": parameter_digest(res.model), "history": res.history, "windows": res.windows}
        Path(result_dir, f"rank{rank}.json").write_text(json.dumps(rec))
    finally:
        cleanup_distributed()


def spawn_pretrain(cfg: PretrainConfig, nproc: int = 2, threads: int = 1) -> list[dict[str, Any]]:
    """Run ``cfg`` in ``nproc`` processes (gloo on CPU); returns the per-rank records, rank order."""
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(nproc, free_port(), cfg.to_dict(), tmp, threads), nprocs=nproc, join=True)
        return [json.loads(Path(tmp, f"rank{r}.json").read_text()) for r in range(nproc)]
