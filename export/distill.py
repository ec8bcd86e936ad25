"""Knowledge distillation from a float teacher (:class:`~toolkit.models.HarClassifier`) into an EdgeStudent.

Loss per batch of standardised windows x (B, L, C):

    L = w_kd * T^2 * KL(softmax(t / T) || softmax(s / T))        soft logits, temperature T
      + w_ce * CE(s, y)                                          hard labels (y = -1: unlabelled, skipped)
      + w_emb * [(1 - cos(e_s, e_t)) + MSE(e_s, e_t) / 2]        embedding matching

where s, t are student/teacher logits (B, K), e_s the student's embedding output (its ``embed`` Linear: the
projection into the teacher's latent space, (B, D)) and e_t the teacher's pooled IMU embedding (B, D). Matching
e_t keeps the student in the space of the text encoder, so class-name text embeddings still score it (zero-shot).
Unlabelled or synthetic windows can be mixed in with y = -1: they feed the KL and embedding terms only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import Tensor, nn

from export.teacher import teacher_embedding


@dataclass
class DistillConfig:
    temperature: float = 4.0
    w_kd: float = 1.0
    w_ce: float = 0.5
    w_emb: float = 0.5
    epochs: int = 40
    lr: float = 3e-3
    batch: int = 64
    seed: int = 0


@torch.no_grad()
def predict_logits(model: nn.Module, x: np.ndarray | Tensor, batch: int = 512) -> np.ndarray:
    """(N, L, C) standardised windows -> (N, K) float logits in eval mode (first output of a tuple)."""
    model.eval()
    xt = torch.as_tensor(np.asarray(x, np.float32))
    outs = []
    for chunk in xt.split(batch):
        out = model(chunk)
        outs.append((out[0] if isinstance(out, tuple | list) else out).numpy())
    return np.concatenate(outs)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn macro F1 in [0, 1] (classes absent from both arrays are ignored)."""
    return float(f1_score(y_true, y_pred, average="macro"))


def distill(
    teacher: nn.Module, student: nn.Module, windows: np.ndarray, labels: np.ndarray | None = None,
    cfg: DistillConfig | None = None, progress: bool = False, student_windows: np.ndarray | None = None,
) -> nn.Module:
    """Train ``student`` from ``teacher`` on standardised ``windows`` (N, L, C); returns the student in eval mode.

    ``labels`` (N,) int, -1 for unlabelled windows (None: KL and embedding terms only). The teacher stays frozen
    in eval mode; its logits and embeddings are computed once up front. A student without an embedding output
    (``embed_out == 0``) skips the embedding term. ``student_windows`` (N, L, C_s): what the student sees of the
    same windows when it has fewer channels than the teacher (e.g. accelerometer only while the teacher keeps its
    gyroscope); None: ``windows``.
    """
    cfg = cfg or DistillConfig()
    torch.manual_seed(cfg.seed)
    x_t = torch.as_tensor(np.asarray(windows, np.float32))
    x = x_t if student_windows is None else torch.as_tensor(np.asarray(student_windows, np.float32))
    if len(x) != len(x_t):
        raise ValueError(f"student windows ({len(x)}) and teacher windows ({len(x_t)}) differ in number")
    y = torch.full((len(x),), -1, dtype=torch.long) if labels is None else torch.as_tensor(labels, dtype=torch.long)
    teacher.eval()
    with torch.no_grad():
        t_logits = torch.cat([teacher(c) for c in x_t.split(512)])
        t_emb = torch.cat([teacher_embedding(teacher, c) for c in x_t.split(512)])
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    temp = cfg.temperature
    for epoch in range(cfg.epochs):
        student.train()
        total = 0.0
        for idx in torch.randperm(len(x)).split(cfg.batch):
            out = student(x[idx])
            s_logits, s_emb = out if isinstance(out, tuple) else (out, None)
            loss = cfg.w_kd * temp**2 * F.kl_div(
                F.log_softmax(s_logits / temp, -1), F.log_softmax(t_logits[idx] / temp, -1), log_target=True,
                reduction="batchmean",
            )
            if (y[idx] >= 0).any():
                loss = loss + cfg.w_ce * F.cross_entropy(s_logits, y[idx], ignore_index=-1)
            if s_emb is not None and cfg.w_emb > 0:
                te = t_emb[idx]
                loss = loss + cfg.w_emb * ((1 - F.cosine_similarity(s_emb, te, dim=-1)).mean()
                                           + 0.5 * F.mse_loss(s_emb, te))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        if progress and (epoch + 1) % max(1, cfg.epochs // 4) == 0:
            print(f"  distil epoch {epoch + 1}/{cfg.epochs}: loss {total / len(x):.4f}", flush=True)
    return student.eval()


@torch.no_grad()
def embedding_agreement(
    teacher: nn.Module, student: nn.Module, windows: np.ndarray, student_windows: np.ndarray | None = None
) -> float:
    """Mean cosine similarity between the student's embedding output and the teacher's pooled embedding
    (``student_windows``: the student's view of ``windows`` when its channels differ, as in :func:`distill`)."""
    x = torch.as_tensor(np.asarray(windows, np.float32))
    xs = x if student_windows is None else torch.as_tensor(np.asarray(student_windows, np.float32))
    teacher.eval()
    student.eval()
    out = student(xs)
    if not isinstance(out, tuple):
        return float("nan")
    return float(F.cosine_similarity(out[1], teacher_embedding(teacher, x), dim=-1).mean())
