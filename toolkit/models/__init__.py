"""Neural network modules and losses of the Multi3Net+ learning system (paper section 5).

Encoders map each modality into one shared latent space of ``out_dim`` (256) features:
:class:`ImuEncoder` (one per wrist), :class:`PoseEncoder`, :class:`TextEncoder` (over frozen
sentence embeddings from :class:`~toolkit.models.text_embedding.SentenceEmbedder`, imported from
its own module because it pulls sentence-transformers). :class:`Multi3Net` bundles them with the
Pose2IMU decoder and the IMU reconstructor; :func:`pretrain_loss` is its objective.
:class:`HarClassifier` is the downstream model (pretrained IMU encoder + MoE head);
:class:`DeepConvLSTM` a from-scratch baseline.
"""

from toolkit.models.baselines import DeepConvLSTM
from toolkit.models.classifier import ClassifierHead, HarClassifier, HarOutput
from toolkit.models.config import (
    ClassifierConfig,
    DecoderConfig,
    ImuEncoderConfig,
    LossConfig,
    Multi3NetConfig,
    PoseEncoderConfig,
    TextEncoderConfig,
)
from toolkit.models.decoders import ImuReconstructor, Pose2ImuDecoder
from toolkit.models.imu_encoder import ImuEncoder, ImuEncoderOutput
from toolkit.models.losses import (
    ContrastiveTerms,
    PretrainLoss,
    info_nce,
    masked_info_nce,
    masked_mse,
    multimodal_contrastive,
    pretrain_loss,
)
from toolkit.models.moe import MixtureOfExperts
from toolkit.models.multi3net import Multi3Net, Multi3NetOutput
from toolkit.models.pose_encoder import PoseEncoder
from toolkit.models.text_encoder import TextEncoder
from toolkit.models.zeroshot import class_text_embeddings, zero_shot_logits, zero_shot_predict

__all__ = [
    "ClassifierConfig",
    "ClassifierHead",
    "ContrastiveTerms",
    "DecoderConfig",
    "DeepConvLSTM",
    "HarClassifier",
    "HarOutput",
    "ImuEncoder",
    "ImuEncoderConfig",
    "ImuEncoderOutput",
    "ImuReconstructor",
    "LossConfig",
    "MixtureOfExperts",
    "Multi3Net",
    "Multi3NetConfig",
    "Multi3NetOutput",
    "Pose2ImuDecoder",
    "PoseEncoder",
    "PoseEncoderConfig",
    "PretrainLoss",
    "TextEncoder",
    "TextEncoderConfig",
    "class_text_embeddings",
    "info_nce",
    "masked_info_nce",
    "masked_mse",
    "multimodal_contrastive",
    "pretrain_loss",
    "zero_shot_logits",
    "zero_shot_predict",
]
