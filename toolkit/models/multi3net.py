"""The Multi3Net+ pretraining model: four encoders into one latent space, two IMU decoders.

Batch (a dict of tensors; B samples, L IMU samples, F pose frames, C = 6 channels):

=============  ================  ===========================================================
key            shape / dtype     meaning
=============  ================  ===========================================================
imu_left       (B, L, C) f32     left-wrist window, normalised by the trainer
imu_right      (B, L, C) f32     right-wrist window
pose           (B, F, J, 3) f32  axis-angle joint rotations [rad]
text_emb       (B, 384) f32      frozen sentence embedding (:mod:`toolkit.models.text_embedding`)
has_left       (B,) bool         sample has a left-wrist window (else its row is ignored)
has_right      (B,) bool         likewise right wrist
has_pose       (B,) bool         likewise pose
has_text       (B,) bool         likewise text
group          (B,) i64          optional: pose identity (same clip + start = same id)
text_id        (B,) i64          optional: text label; both de-duplicate the contrastive
                                 targets (:mod:`toolkit.models.losses`)
=============  ================  ===========================================================

Any modality key may be left out (that modality is absent from the whole batch); a missing
``has_*`` mask means "all present". Absent rows may hold anything finite (zeros, say): they run
through the encoders (fixed shapes) but no loss term uses them. They do enter BatchNorm's batch
statistics in training mode.

Outputs: the four embeddings (B, D) (D = 256 by default, the encoders' ``out_dim``), the IMU
token maps H (B, 6, embed_dim), ``pose2imu`` = Pose2IMU(e_pose) and ``reconstruction`` =
Reconstructor([e_left, e_right]), both (B, L, 2 C) with the left wrist's C channels first. An
absent wrist's embedding is zeroed before the reconstructor, so the decoder never sees a
made-up window's embedding.

Ablations (``Multi3NetConfig.ablation``, the paper's tables):
``full`` everything; ``contrastive_only`` no decoders run; ``reconstruction_only`` only the two
IMU encoders and the reconstructor run.

Shared wrists (``Multi3Net.shared_wrists``, set by the trainer when the right wrist is mirrored into the left-wrist
frame, saved in the checkpoint's extra): the right-wrist window goes through the LEFT encoder too, so one
left-frame encoder learns from both wrists (the ``imu_right`` parameters stay, unused).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from toolkit.models.config import ABLATIONS, Multi3NetConfig
from toolkit.models.decoders import ImuReconstructor, Pose2ImuDecoder
from toolkit.models.imu_encoder import ImuEncoder
from toolkit.models.losses import PretrainLoss, pretrain_loss
from toolkit.models.pose_encoder import PoseEncoder
from toolkit.models.text_encoder import TextEncoder

#: modality name -> (batch key of its tensor, batch key of its mask)
BATCH_KEYS: dict[str, tuple[str, str]] = {
    "text": ("text_emb", "has_text"),
    "pose": ("pose", "has_pose"),
    "imu_left": ("imu_left", "has_left"),
    "imu_right": ("imu_right", "has_right"),
}


@dataclass
class Multi3NetOutput:
    """What :meth:`Multi3Net.forward` returns (see the module docstring)."""

    embeddings: dict[str, Tensor]  #: modality -> (B, D), for the modalities the ablation encodes
    masks: dict[str, Tensor]  #: modality -> bool (B,)
    imu_tokens: dict[str, Tensor] = field(default_factory=dict)  #: "imu_left"/"imu_right" -> H (B, 6, embed_dim)
    pose2imu: Tensor | None = None  #: (B, L, 2 C)
    reconstruction: Tensor | None = None  #: (B, L, 2 C)


class Multi3Net(nn.Module):
    """Text, pose, left- and right-wrist encoders, the Pose2IMU decoder and the IMU reconstructor."""

    def __init__(self, cfg: Multi3NetConfig):
        super().__init__()
        self.cfg = cfg
        self.text = TextEncoder(cfg.text)
        self.pose = PoseEncoder(cfg.pose)
        self.imu_left = ImuEncoder(cfg.imu)
        self.imu_right = ImuEncoder(cfg.imu)
        both_wrists = 2 * cfg.imu.in_channels
        self.pose2imu = Pose2ImuDecoder(cfg.decoder, both_wrists)
        self.reconstructor = ImuReconstructor(cfg.decoder, both_wrists)
        self.ablation = cfg.ablation
        self.shared_wrists = False

    @property
    def ablation(self) -> str:
        return self._ablation

    @ablation.setter
    def ablation(self, value: str) -> None:
        if value not in ABLATIONS:
            raise ValueError(f"ablation must be one of {ABLATIONS}, got {value!r}")
        self._ablation = value

    def _present(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Modality tensors and bool masks of the batch (only the modalities it carries)."""
        inputs: dict[str, Tensor] = {}
        masks: dict[str, Tensor] = {}
        for name, (key, mask_key) in BATCH_KEYS.items():
            x = batch.get(key)
            if x is None:
                continue
            inputs[name] = x
            m = batch.get(mask_key)
            masks[name] = torch.ones(x.shape[0], dtype=torch.bool, device=x.device) if m is None else m.to(torch.bool)
        if "imu_left" not in inputs and "imu_right" not in inputs:
            raise ValueError("the batch has neither imu_left nor imu_right")
        for name in ("imu_left", "imu_right"):
            if name in inputs and inputs[name].shape[1] != self.cfg.decoder.window_length:
                raise ValueError(
                    f"{name} has {inputs[name].shape[1]} samples but the decoders emit "
                    f"decoder.window_length={self.cfg.decoder.window_length}"
                )
        return inputs, masks

    def forward(self, batch: dict[str, Tensor]) -> Multi3NetOutput:
        """Encode every modality present and decode IMU windows as the ablation requires."""
        inputs, masks = self._present(batch)
        recon_only = self.ablation == "reconstruction_only"
        out = Multi3NetOutput(embeddings={}, masks={})
        for name in ("imu_left", "imu_right"):
            if name in inputs:
                enc = (self.imu_left if self.shared_wrists else getattr(self, name))(inputs[name])
                out.embeddings[name], out.imu_tokens[name] = enc.embedding, enc.tokens
                out.masks[name] = masks[name]
        if not recon_only:
            if "text" in inputs:
                out.embeddings["text"], out.masks["text"] = self.text(inputs["text"]), masks["text"]
            if "pose" in inputs:
                out.embeddings["pose"], out.masks["pose"] = self.pose(inputs["pose"]), masks["pose"]
        if self.ablation != "contrastive_only":
            out.reconstruction = self.reconstructor(
                self._wrist_embedding(out, "imu_left"), self._wrist_embedding(out, "imu_right")
            )
            if self.ablation == "full" and "pose" in out.embeddings:
                out.pose2imu = self.pose2imu(out.embeddings["pose"])
        return out

    def _wrist_embedding(self, out: Multi3NetOutput, name: str) -> Tensor:
        """(B, D) embedding of a wrist with absent samples zeroed (all zeros if the batch lacks it)."""
        e = out.embeddings.get(name)
        if e is None:
            ref = next(iter(out.embeddings.values()))
            return torch.zeros_like(ref)
        return e * out.masks[name][:, None].to(e.dtype)

    def loss(self, batch: dict[str, Tensor], outputs: Multi3NetOutput | None = None) -> PretrainLoss:
        """:func:`~toolkit.models.losses.pretrain_loss` with this model's loss config and ablation."""
        outputs = self(batch) if outputs is None else outputs
        return pretrain_loss(outputs, batch, self.cfg.loss, self.ablation)
