"""InfoNCE, the masked multi-modal contrastive sum, masked MSE and the pretraining objective."""

from __future__ import annotations

import math

import pytest
import torch

from tests.models._helpers import make_batch
from toolkit.models import Multi3Net, info_nce, masked_info_nce, masked_mse, multimodal_contrastive, pretrain_loss
from toolkit.models.config import LossConfig, Multi3NetConfig
from toolkit.models.losses import _masked_rows_ce, duplicate_matrix, text_geometry_loss

CFG = Multi3NetConfig.tiny()


# ----------------------------------------------------------------------------- info_nce
def test_info_nce_hand_value_2x2() -> None:
    # q1 = (1, 0), q2 = (0, 1); k1 = (1, 0), k2 = (1, 1): k2 is at 45 degrees to both q's
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    tau = 0.5
    r = 1 / math.sqrt(2)
    # cosine matrix s_ij = cos(q_i, k_j) = [[1, r], [0, r]], logits = s / tau
    s = [[1.0, r], [0.0, r]]
    e = [[math.exp(v / tau) for v in row] for row in s]
    rows = [-math.log(e[0][0] / (e[0][0] + e[0][1])), -math.log(e[1][1] / (e[1][0] + e[1][1]))]
    cols = [-math.log(e[0][0] / (e[0][0] + e[1][0])), -math.log(e[1][1] / (e[0][1] + e[1][1]))]
    expected = 0.5 * (sum(rows) / 2 + sum(cols) / 2)
    assert info_nce(q, k, tau).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_is_symmetric_and_scale_invariant() -> None:
    q, k = torch.randn(5, 8), torch.randn(5, 8)
    torch.testing.assert_close(info_nce(q, k), info_nce(k, q))
    torch.testing.assert_close(info_nce(3.0 * q, 0.5 * k), info_nce(q, k))


def test_info_nce_minimum_for_aligned_orthogonal_pairs() -> None:
    n = 3
    eye = torch.eye(n)
    shuffled = eye[[1, 2, 0]]
    for tau in (1.0, 0.3, 0.07):
        aligned = info_nce(eye, eye, tau).item()
        # analytic value: each row/column has one logit 1/tau and n - 1 logits 0
        assert aligned == pytest.approx(math.log(1 + (n - 1) * math.exp(-1 / tau)), rel=1e-5, abs=1e-7)
        assert aligned < info_nce(eye, shuffled, tau).item()
    # the infimum 0 is approached as tau -> 0
    assert info_nce(eye, eye, 0.01).item() < 1e-6
    assert info_nce(eye, eye, 1.0).item() > info_nce(eye, eye, 0.3).item() > info_nce(eye, eye, 0.07).item()


def test_masked_info_nce_equals_info_nce_on_the_subset() -> None:
    q, k = torch.randn(6, 4), torch.randn(6, 4)
    valid = torch.tensor([True, False, True, True, False, True])
    torch.testing.assert_close(masked_info_nce(q, k, valid, 0.1), info_nce(q[valid], k[valid], 0.1))


@pytest.mark.parametrize("n_valid", [0, 1])
def test_masked_info_nce_with_fewer_than_two_samples_is_zero_without_nan_grad(n_valid: int) -> None:
    q = torch.randn(4, 3, requires_grad=True)
    k = torch.randn(4, 3, requires_grad=True)
    valid = torch.zeros(4, dtype=torch.bool)
    valid[:n_valid] = True
    loss = masked_info_nce(q, k, valid)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()


# ------------------------------------------------------------------- multimodal contrastive
def _embeddings(batch: int = 5) -> dict[str, torch.Tensor]:
    return {m: torch.randn(batch, 8) for m in ("text", "pose", "imu_left", "imu_right")}


def test_contrastive_sums_all_six_pairs() -> None:
    emb = _embeddings()
    res = multimodal_contrastive(emb, tau=0.07)
    assert len(res.terms) == 6 and res.skipped == []
    assert set(res.counts.values()) == {5}
    torch.testing.assert_close(res.total, sum(info_nce(emb[n.split("-")[0]], emb[n.split("-")[1]]) for n in res.terms))


def test_sample_missing_text_changes_only_text_pairs() -> None:
    emb = _embeddings()
    full = multimodal_contrastive(emb)
    has_text = torch.tensor([True, True, False, True, True])
    part = multimodal_contrastive(emb, {"text": has_text})
    for name, term in part.terms.items():
        if name.startswith("text-"):
            other = name.split("-")[1]
            torch.testing.assert_close(term, info_nce(emb["text"][has_text], emb[other][has_text]))
            assert not torch.allclose(term, full.terms[name])
            assert part.counts[name] == 4
        else:
            torch.testing.assert_close(term, full.terms[name])


def test_batch_without_text_and_with_one_wrist() -> None:
    emb = _embeddings()
    # text tensor present but no sample has it: its 3 pairs are 0 and reported skipped
    res = multimodal_contrastive(emb, {"text": torch.zeros(5, dtype=torch.bool)})
    assert sorted(res.skipped) == ["text-imu_left", "text-imu_right", "text-pose"]
    assert all(res.terms[n].item() == 0.0 for n in res.skipped)
    # modality left out entirely, and only one wrist: pose-imu_left only
    res = multimodal_contrastive({"pose": emb["pose"], "imu_left": emb["imu_left"]})
    assert list(res.terms) == ["pose-imu_left"] and res.skipped == []
    # a single-sample overlap is skipped, not NaN
    res = multimodal_contrastive(emb, {"imu_right": torch.tensor([True, False, False, False, False])})
    assert {"text-imu_right", "pose-imu_right", "imu_left-imu_right"} == set(res.skipped)
    assert torch.isfinite(res.total)


def test_pairs_restrict_the_sum() -> None:
    emb = _embeddings()
    res = multimodal_contrastive(emb, pairs=["imu_left-pose", "imu_right-imu_left"])
    assert set(res.terms) == {"pose-imu_left", "imu_left-imu_right"}
    res = multimodal_contrastive({"pose": emb["pose"], "imu_left": emb["imu_left"]}, pairs=["text-pose"])
    assert res.terms == {} and res.skipped == ["pose-text"] and res.total.item() == 0.0


# ------------------------------------------------------------------------------ masked MSE
def test_masked_mse_hand_values() -> None:
    pred = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])  # (B=2, L=2, C=2)
    target = torch.zeros_like(pred)
    assert masked_mse(pred, target).item() == pytest.approx((1 + 4 + 9 + 16 + 25 + 36 + 49 + 64) / 8)
    assert masked_mse(pred, target, torch.tensor([True, False])).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    per_channel = torch.tensor([[True, False], [False, True]])  # (B, C)
    assert masked_mse(pred, target, per_channel).item() == pytest.approx((1 + 9 + 36 + 64) / 4)
    assert masked_mse(pred, target, torch.zeros(2, dtype=torch.bool)).item() == 0.0


def test_masked_mse_ignores_nan_targets_outside_the_mask() -> None:
    pred = torch.randn(2, 3, 4, requires_grad=True)
    target = torch.randn(2, 3, 4)
    target[1] = float("nan")
    loss = masked_mse(pred, target, torch.tensor([True, False]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    assert (pred.grad[1] == 0).all()
    torch.testing.assert_close(loss, torch.nn.functional.mse_loss(pred[0], target[0]))


# --------------------------------------------------------------------------- pretraining
def _grads(model: torch.nn.Module, prefix: str) -> float:
    grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix) and p.grad is not None]
    return sum(float(g.abs().sum()) for g in grads)


def test_full_pretraining_step_reaches_every_module() -> None:
    model = Multi3Net(CFG)
    batch = make_batch(CFG)
    loss = model.loss(batch)
    loss.total.backward()
    assert len(loss.contrastive_terms) == 6 and loss.skipped == []
    assert loss.pose2imu.item() > 0 and loss.reconstruction.item() > 0
    for prefix in ("text.", "pose.", "imu_left.", "imu_right.", "pose2imu.", "reconstructor."):
        assert _grads(model, prefix) > 0, prefix
    assert set(loss.as_floats()) >= {"total", "contrastive", "pose2imu", "reconstruction", "nce/text-pose"}


def test_missing_modalities_never_crash_the_batch() -> None:
    model = Multi3Net(CFG)
    batch = make_batch(CFG, batch=4)
    batch["has_text"] = torch.tensor([True, False, True, True])
    batch["has_right"] = torch.tensor([True, True, False, False])
    batch["imu_right"][2:] = 0.0  # absent rows hold any finite filler
    loss = model.loss(batch)
    loss.total.backward()
    assert torch.isfinite(loss.total)
    # no text anywhere in the batch, and no right wrist key at all
    for drop in (("text_emb", "has_text"), ("imu_right", "has_right"), ("pose", "has_pose")):
        b = make_batch(CFG, batch=3)
        for key in drop:
            del b[key]
        model.zero_grad()
        out = model(b)
        loss = pretrain_loss(out, b, CFG.loss)
        loss.total.backward()
        assert torch.isfinite(loss.total), drop
        assert len(loss.contrastive_terms) == 3, drop
    # one wrist only: the reconstruction is scored on that wrist's channels only
    b = make_batch(CFG, batch=3)
    b["has_left"][:] = False
    out = model(b)
    loss = pretrain_loss(out, b, CFG.loss)
    left_only_target = torch.cat([torch.zeros_like(b["imu_left"]), b["imu_right"]], dim=-1)
    torch.testing.assert_close(
        loss.reconstruction, torch.nn.functional.mse_loss(out.reconstruction[..., 6:], left_only_target[..., 6:])
    )
    assert all(loss.contrastive_terms[n].item() == 0.0 for n in loss.skipped)
    assert set(loss.skipped) == {"text-imu_left", "pose-imu_left", "imu_left-imu_right"}


def test_absent_wrist_embedding_is_zeroed_before_the_reconstructor() -> None:
    model = Multi3Net(CFG).eval()
    b = make_batch(CFG, batch=3)
    b["has_right"] = torch.tensor([True, False, True])
    out_a = model(b)
    b["imu_right"][1] = 5.0  # whatever an absent row holds does not change its reconstruction
    out_b = model(b)
    torch.testing.assert_close(out_a.reconstruction[1], out_b.reconstruction[1])


def test_ablation_modes() -> None:
    batch = make_batch(CFG)
    model = Multi3Net(CFG)
    model.ablation = "contrastive_only"
    out = model(batch)
    assert out.pose2imu is None and out.reconstruction is None
    loss = model.loss(batch, out)
    assert loss.pose2imu.item() == 0 and loss.reconstruction.item() == 0 and loss.contrastive.item() > 0

    model.ablation = "reconstruction_only"
    out = model(batch)
    assert set(out.embeddings) == {"imu_left", "imu_right"} and out.pose2imu is None
    loss = model.loss(batch, out)
    assert loss.contrastive.item() == 0 and loss.contrastive_terms == {} and loss.pose2imu.item() == 0
    torch.testing.assert_close(loss.total, loss.reconstruction)
    with pytest.raises(ValueError):
        model.ablation = "bogus"


def test_loss_weights() -> None:
    model = Multi3Net(CFG)
    batch = make_batch(CFG)
    out = model(batch)
    base = pretrain_loss(out, batch, LossConfig())
    weighted = pretrain_loss(out, batch, LossConfig(w_contrastive=0.5, w_pose2imu=2.0, w_reconstruction=0.0))
    torch.testing.assert_close(weighted.total, 0.5 * base.contrastive + 2.0 * base.pose2imu)


# ----------------------------------------------------------------------------- de-duplicated targets
def test_duplicated_batch_has_the_deduplicated_loss() -> None:
    torch.manual_seed(0)
    q, k = torch.randn(5, 8), torch.randn(5, 8)
    valid = torch.ones(5, dtype=torch.bool)
    ref = masked_info_nce(q, k, valid)
    rep = torch.tensor([0, 1, 2, 3, 4] * 3)  # every sample three times (e.g. 3 body variants, one text)
    same = duplicate_matrix(rep)
    torch.testing.assert_close(masked_info_nce(q[rep], k[rep], valid[rep], same=same), ref)
    plain = masked_info_nce(q[rep], k[rep], valid[rep])
    assert plain > ref + 0.5  # without de-duplication the copies are negatives: log 3 of extra loss or so


def test_same_text_pairs_get_no_push_apart_gradient() -> None:
    torch.manual_seed(1)
    text = torch.randn(4, 8)
    text[1] = text[0]  # windows 0 and 1 share their text
    imu = torch.randn(4, 8)
    tid = torch.tensor([7, 7, 8, 9])
    grads = {}
    for name, same in (("masked", duplicate_matrix(tid)), ("plain", None)):
        logits = (torch.nn.functional.normalize(text, dim=-1) @ torch.nn.functional.normalize(imu, dim=-1).T / 0.07)
        logits = logits.detach().requires_grad_(True)
        valid = torch.ones(4, dtype=torch.bool)
        loss = 0.5 * (_masked_rows_ce(logits, valid, same) + _masked_rows_ce(logits.T, valid, None if same is None
                                                                             else same.T))  # fmt: skip
        loss.backward()
        grads[name] = logits.grad
    # d loss / d s_01 > 0 would lower text0-imu1 similarity: pushing same-text windows apart
    assert grads["plain"][0, 1] > 0 and grads["plain"][1, 0] > 0
    assert grads["masked"][0, 1] == 0 and grads["masked"][1, 0] == 0
    assert grads["masked"][0, 2] > 0  # real negatives still repel


def test_multimodal_contrastive_masks_groups_everywhere_and_texts_only_with_text() -> None:
    torch.manual_seed(2)
    emb = {m: torch.randn(6, 8) for m in ("text", "pose", "imu_left")}
    group = torch.tensor([0, 0, 1, 2, 3, 4])  # 0 and 1: body variants of one window
    text_id = torch.tensor([0, 0, 0, 1, 1, 2])  # 0-2 share a text, 3-4 another
    res = multimodal_contrastive(emb, group=group, text_id=text_id)
    same_g, same_t = duplicate_matrix(group), duplicate_matrix(text_id)
    valid = torch.ones(6, dtype=torch.bool)
    torch.testing.assert_close(res.terms["pose-imu_left"], masked_info_nce(emb["pose"], emb["imu_left"], valid,
                                                                           same=same_g))  # fmt: skip
    torch.testing.assert_close(res.terms["text-pose"], masked_info_nce(emb["text"], emb["pose"], valid,
                                                                       same=same_g | same_t))  # fmt: skip
    plain = multimodal_contrastive(emb)
    assert all(res.terms[k] < plain.terms[k] for k in res.terms)  # masking only removes negatives
    assert not bool(duplicate_matrix(torch.tensor([-1, -1]))[0, 1])  # unknown ids never match


def test_pretrain_loss_reads_group_and_text_id_from_the_batch() -> None:
    batch = make_batch(CFG)
    b = batch["imu_left"].shape[0]
    model = Multi3Net(CFG)
    out = model(batch)
    plain = pretrain_loss(out, batch)
    same = pretrain_loss(out, {**batch, "group": torch.arange(b), "text_id": torch.arange(b)})
    torch.testing.assert_close(same.contrastive, plain.contrastive)  # all distinct: nothing masked
    dup = pretrain_loss(out, {**batch, "text_id": torch.zeros(b, dtype=torch.long)})
    assert dup.contrastive < plain.contrastive


def test_text_geometry_loss_is_zero_for_a_rotation_and_positive_for_a_collapse() -> None:
    torch.manual_seed(3)
    lm = torch.randn(6, 384)
    q, _ = torch.linalg.qr(torch.randn(384, 384))
    assert text_geometry_loss(lm @ q, lm) < 1e-10  # an orthogonal map keeps every pairwise cosine
    collapsed = torch.ones(6, 384) + 1e-3 * torch.randn(6, 384)
    assert text_geometry_loss(collapsed, lm) > 0.5
    only_two = torch.tensor([True, True, False, False, False, False])
    assert text_geometry_loss(collapsed, lm, only_two) > 0 and text_geometry_loss(lm[:1], lm[:1]) == 0
