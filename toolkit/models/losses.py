"""Pretraining losses: symmetric InfoNCE over every modality pair, masked MSE, their sum.

Masks: every modality of a batch comes with a bool mask (B,) saying which samples have it
(``has_text``, ``has_pose``, ``has_left``, ``has_right``). A term only uses the samples that can
join it, a term with no usable sample is exactly 0 (no NaN, gradient 0), and a modality missing
from the whole batch simply drops its terms. The masked InfoNCE keeps the batch's fixed shape
(invalid rows and columns are masked in the similarity matrix instead of being indexed away), so it
needs no host synchronisation; only the list of skipped pairs reads the counts back.

De-duplicated targets: a batch may hold samples that are the same thing in one modality: windows of clips with
the same text (label), and body variants of one clip at one start time (identical pose tensor). Treating them as
each other's negatives pushes identical inputs apart. Optional id tensors say who is whom: ``group`` (B,) int
(same pose = same group) and ``text_id`` (B,) int (same text label). In the pair (a, b) the off-diagonal logit
(i, j) is masked (left out of the softmax: neither positive nor negative) when i and j share their group, or,
when one of a, b is ``text``, their text id, and a negative that appears m times counts once (its exp-logit
/ m). A batch whose every sample appears m times then has exactly the de-duplicated batch's loss
(:func:`masked_info_nce`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor

from toolkit.models.config import ABLATIONS, MODALITIES, LossConfig


def info_nce(q: Tensor, k: Tensor, tau: float = 0.07) -> Tensor:
    """Symmetric InfoNCE (the paper's eq. 3, both directions averaged) of paired (N, D) embeddings.

    ``s_ij = cos(q_i, k_j) / tau``; the loss is the mean of the cross-entropy of the rows of s
    (q -> k) and of its columns (k -> q), with the matching index as the target. Scalar, nats.
    """
    logits = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).T / tau
    labels = torch.arange(q.shape[0], device=q.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def _masked_rows_ce(logits: Tensor, valid: Tensor, same: Tensor | None = None) -> Tensor:
    """Cross-entropy of each row of a (B, B) matrix against its diagonal, over valid columns only.

    Returns the mean over valid rows (0 when there is none). Invalid columns, and off-diagonal
    columns where ``same`` (B, B) bool is True (duplicates of the row), get a very negative finite
    logit (never -inf, so that a row with no valid entry stays finite): no gradient flows to them.
    With ``same``, every other column j is counted once per duplicate set: its exp-logit is divided
    by m_j, the number of valid columns that are duplicates of j (itself included), so a negative
    repeated m times weighs what it would weigh once.
    """
    fill = torch.finfo(logits.dtype).min
    drop = ~valid[None, :]
    if same is not None:
        same = same.to(torch.bool)
        eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
        drop = drop | (same & ~eye)
        mult = ((same | eye) & valid[:, None]).sum(dim=0).clamp(min=1).to(logits.dtype)
        logits_w = torch.where(eye, logits, logits - torch.log(mult)[None, :])
        masked = logits_w.masked_fill(drop, fill)
        per_row = torch.logsumexp(masked, dim=-1) - logits.diagonal()
        per_row = torch.where(valid, per_row, torch.zeros_like(per_row))
        return per_row.sum() / valid.sum().clamp(min=1)
    masked = logits.masked_fill(drop, fill)
    per_row = torch.logsumexp(masked, dim=-1) - logits.diagonal()
    per_row = torch.where(valid, per_row, torch.zeros_like(per_row))
    return per_row.sum() / valid.sum().clamp(min=1)


def masked_info_nce(q: Tensor, k: Tensor, valid: Tensor, tau: float = 0.07, same: Tensor | None = None) -> Tensor:
    """:func:`info_nce` restricted to the samples where ``valid`` (B,) is True.

    Equal to ``info_nce(q[valid], k[valid], tau)``; exactly 0 when fewer than 2 samples are valid
    (with one sample the loss is log 1 = 0; with none there is nothing to average).
    ``same`` (B, B) bool, symmetric: pairs that are duplicates; their off-diagonal logits are left out
    of both softmaxes (module docstring), so duplicates are never negatives of each other.
    """
    logits = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).T / tau
    same_t = None if same is None else same.T
    return 0.5 * (_masked_rows_ce(logits, valid, same) + _masked_rows_ce(logits.T, valid, same_t))


def duplicate_matrix(ids: Tensor | None) -> Tensor | None:
    """(B,) integer ids -> (B, B) bool ``ids_i == ids_j`` (None for None); negative ids never match (unknown)."""
    if ids is None:
        return None
    eq = ids[:, None] == ids[None, :]
    return eq & (ids[:, None] >= 0)


def pair_name(a: str, b: str) -> str:
    """Name of the contrastive term between modalities a and b, e.g. ``"pose-imu_left"``."""
    return f"{a}-{b}"


@dataclass
class ContrastiveTerms:
    """Result of :func:`multimodal_contrastive`."""

    total: Tensor  #: sum of the per-pair terms (scalar)
    terms: dict[str, Tensor]  #: per pair, e.g. "text-pose" -> scalar
    counts: dict[str, int]  #: samples that joined each pair
    skipped: list[str] = field(default_factory=list)  #: pairs with fewer than 2 samples (term 0)


def multimodal_contrastive(
    embeddings: dict[str, Tensor],
    masks: dict[str, Tensor] | None = None,
    tau: float = 0.07,
    pairs: list[str] | tuple[str, ...] | None = None,
    group: Tensor | None = None,
    text_id: Tensor | None = None,
) -> ContrastiveTerms:
    """Sum of masked symmetric InfoNCE over every pair of the modalities present (paper, eq. 5).

    Args:
        embeddings: modality name -> (B, D) embedding; the 4 modalities give 6 pairs.
        masks: modality name -> bool (B,) (missing entry = all present).
        tau: temperature.
        pairs: restrict to these "a-b" names (order-insensitive); None = every pair present.
            A requested pair whose modality is absent from ``embeddings`` is listed as skipped.
        group: (B,) int pose identity (same clip and start time, any body variant); duplicates are
            masked in every pair (module docstring). None = every sample distinct.
        text_id: (B,) int text label; duplicates are masked in the pairs with ``text``.
    Each pair uses the samples having both modalities; a pair with fewer than 2 contributes 0.
    """
    same_group, same_text = duplicate_matrix(group), duplicate_matrix(text_id)
    masks = masks or {}
    names = [m for m in MODALITIES if m in embeddings] + sorted(set(embeddings) - set(MODALITIES))
    if not names:
        raise ValueError("multimodal_contrastive: no embeddings given")
    ref = embeddings[names[0]]
    batch = ref.shape[0]

    def mask_of(m: str) -> Tensor:
        v = masks.get(m)
        return torch.ones(batch, dtype=torch.bool, device=ref.device) if v is None else v.to(torch.bool)

    wanted = None if pairs is None else {frozenset(p.split("-", 1)) for p in pairs}
    terms: dict[str, Tensor] = {}
    count_tensors: dict[str, Tensor] = {}
    for a, b in combinations(names, 2):
        if wanted is not None and frozenset((a, b)) not in wanted:
            continue
        valid = mask_of(a) & mask_of(b)
        name = pair_name(a, b)
        same = same_group
        if "text" in (a, b) and same_text is not None:
            same = same_text if same is None else same | same_text
        terms[name] = masked_info_nce(embeddings[a], embeddings[b], valid, tau, same)
        count_tensors[name] = valid.sum()
    counts = dict(zip(count_tensors, torch.stack(list(count_tensors.values())).tolist(), strict=True)) if terms else {}
    skipped = [n for n, c in counts.items() if c < 2]
    if wanted is not None:
        present = {frozenset(n.split("-", 1)) for n in terms}
        skipped += sorted("-".join(sorted(p)) for p in wanted - present)
    total = torch.stack(list(terms.values())).sum() if terms else ref.new_zeros(())
    return ContrastiveTerms(total=total, terms=terms, counts=counts, skipped=skipped)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error over the elements selected by ``mask``.

    Args:
        pred, target: (B, L, C) (any equal shapes).
        mask: bool, broadcastable to pred after adding trailing axes: (B,) per sample, (B, C) per
            sample and channel (right-aligned against (B, L, C) it is expanded to (B, 1, C)), or the
            full shape. None = every element.
    Returns:
        scalar: sum of squared errors over selected elements / their number (0 when none).
        Non-finite targets at unselected positions (e.g. NaN for a missing gyroscope) are ignored
        and give no NaN gradient. With equal-length windows this is the paper's eq. 6 term
        (mean over samples of the per-window mean squared error).
    """
    if mask is None:
        return F.mse_loss(pred, target)
    m = mask.to(torch.bool)
    if m.dim() == 2 and pred.dim() == 3:
        m = m[:, None, :]
    while m.dim() < pred.dim():
        m = m.unsqueeze(-1)
    m = m.expand_as(pred)
    diff = pred - target.masked_fill(~m, 0.0)
    sq = torch.where(m, diff * diff, torch.zeros_like(diff))
    return sq.sum() / m.sum().clamp(min=1)


@dataclass
class PretrainLoss:
    """Result of :func:`pretrain_loss`; log ``as_floats()``."""

    total: Tensor
    contrastive: Tensor
    pose2imu: Tensor
    reconstruction: Tensor
    contrastive_terms: dict[str, Tensor]
    skipped: list[str]

    def as_floats(self) -> dict[str, float]:
        """Scalar values for logging: total, the three parts and every contrastive pair."""
        out = {
            "total": float(self.total.detach()),
            "contrastive": float(self.contrastive.detach()),
            "pose2imu": float(self.pose2imu.detach()),
            "reconstruction": float(self.reconstruction.detach()),
        }
        out.update({f"nce/{k}": float(v.detach()) for k, v in self.contrastive_terms.items()})
        return out


def wrist_channel_mask(has_left: Tensor, has_right: Tensor, channels: int) -> Tensor:
    """(B,) masks of the two wrists -> (B, 2 C) mask of the concatenated [left C, right C] channels."""
    return torch.cat([has_left[:, None].expand(-1, channels), has_right[:, None].expand(-1, channels)], dim=1).to(
        torch.bool
    )


def pretrain_loss(
    outputs: object,
    batch: dict[str, Tensor],
    cfg: LossConfig | None = None,
    ablation: str = "full",
) -> PretrainLoss:
    """The paper's pretraining objective ``L_contrastive + L_MSE`` with modality masks.

    Args:
        outputs: a :class:`~toolkit.models.multi3net.Multi3NetOutput` (embeddings, masks,
            ``pose2imu`` and ``reconstruction`` (B, L, 2 C) or None).
        batch: the batch given to the model; ``imu_left``/``imu_right`` (B, L, C) are the targets;
            optional ``group`` / ``text_id`` (B,) int64 de-duplicate the contrastive targets.
        cfg: weights, temperature and pairs.
        ablation: "full" (all three terms), "contrastive_only" (no MSE terms),
            "reconstruction_only" (IMU reconstruction MSE only).
    Pose2IMU is scored where the sample has pose AND the wrist; reconstruction where it has the
    wrist. Terms an ablation disables are 0 and carry no gradient.
    """
    cfg = cfg or LossConfig()
    if ablation not in ABLATIONS:
        raise ValueError(f"ablation must be one of {ABLATIONS}, got {ablation!r}")
    masks: dict[str, Tensor] = outputs.masks  # type: ignore[attr-defined]
    embeddings: dict[str, Tensor] = outputs.embeddings  # type: ignore[attr-defined]
    ref = next(iter(embeddings.values()))
    zero = ref.new_zeros(())

    contrastive, terms, skipped = zero, {}, []
    if ablation != "reconstruction_only":
        res = multimodal_contrastive(embeddings, masks, cfg.tau, cfg.pairs, batch.get("group"), batch.get("text_id"))
        contrastive, terms, skipped = res.total, res.terms, res.skipped

    pose2imu = reconstruction = zero
    if ablation != "contrastive_only":
        target, has_left, has_right = _imu_target(batch, masks)
        c = target.shape[-1] // 2
        wrists = wrist_channel_mask(has_left, has_right, c)
        rec = outputs.reconstruction  # type: ignore[attr-defined]
        if rec is not None:
            reconstruction = masked_mse(rec, target, wrists)
        p2i = outputs.pose2imu  # type: ignore[attr-defined]
        if ablation == "full" and p2i is not None and "pose" in masks:
            pose2imu = masked_mse(p2i, target, wrists & masks["pose"][:, None])

    total = cfg.w_contrastive * contrastive + cfg.w_pose2imu * pose2imu + cfg.w_reconstruction * reconstruction
    return PretrainLoss(total, contrastive, pose2imu, reconstruction, terms, skipped)


def _imu_target(batch: dict[str, Tensor], masks: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """(B, L, 2 C) target [left, right] and the two wrist masks; an absent wrist is zeros, masked out."""
    left, right = batch.get("imu_left"), batch.get("imu_right")
    if left is None and right is None:
        raise ValueError("pretrain_loss: the batch has neither imu_left nor imu_right")
    left = torch.zeros_like(right) if left is None else left
    right = torch.zeros_like(left) if right is None else right
    b = left.shape[0]
    none = torch.zeros(b, dtype=torch.bool, device=left.device)
    has_left = masks.get("imu_left", none) if "imu_left" in batch else none
    has_right = masks.get("imu_right", none) if "imu_right" in batch else none
    return torch.cat([left, right], dim=-1), has_left, has_right


def text_geometry_loss(text_latent: Tensor, text_lm: Tensor, valid: Tensor | None = None) -> Tensor:
    """How far the text encoder bends the language model's geometry: mean squared difference of pairwise cosines.

    Args:
        text_latent: (B, D) text embeddings in the latent space.
        text_lm: (B, 384) the frozen sentence embeddings they came from.
        valid: (B,) bool rows with text (None = all).
    Returns:
        scalar, mean over off-diagonal valid pairs of ``(cos(e_i, e_j) - cos(s_i, s_j))^2`` (0 with < 2 rows).
        Keeping it small keeps unseen prompts (zero-shot classes) near the training texts they resemble.
    """
    a = F.normalize(text_latent, dim=-1)
    b = F.normalize(text_lm, dim=-1)
    diff = a @ a.T - b @ b.T
    n = a.shape[0]
    v = torch.ones(n, dtype=torch.bool, device=a.device) if valid is None else valid.to(torch.bool)
    pair = v[:, None] & v[None, :] & ~torch.eye(n, dtype=torch.bool, device=a.device)
    return torch.where(pair, diff * diff, torch.zeros_like(diff)).sum() / pair.sum().clamp(min=1)
