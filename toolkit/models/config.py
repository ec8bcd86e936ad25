"""Dataclass configurations of the Multi3Net+ modules, with ``tiny()`` and ``default()`` presets.

Every config converts to a plain dict of numbers, strings, lists and nested dicts (``to_dict``),
so a trainer can save it next to a checkpoint or in YAML, and back (``from_dict``, which accepts
lists where tuples are expected and rejects unknown keys with :class:`~toolkit.errors.ConfigError`).

Presets
    ``tiny()``     a few thousand parameters per module, windows of 24 samples: fast CPU tests.
    ``default()``  close to the paper: 256-d embeddings, 6 IMU tokens, 2 s windows at 60 Hz
                   (120 samples), SMPL's 24 joints.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Self

from toolkit.errors import ConfigError

#: Activations the transformer feed-forward layers accept.
ACTIVATIONS = ("gelu", "relu")
#: Pretraining ablations of the paper's tables (see :mod:`toolkit.models.losses`).
ABLATIONS = ("full", "contrastive_only", "reconstruction_only")
#: Modality names, in the order the contrastive pairs are formed.
MODALITIES = ("text", "pose", "imu_left", "imu_right")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_heads(dim: int, heads: int, where: str) -> None:
    _check(heads >= 1 and dim % heads == 0, f"{where}: dim {dim} is not divisible by num_heads {heads}")


class _DictMixin:
    """``to_dict`` / ``from_dict`` for (nested) dataclasses of plain values."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples become lists), suitable for JSON/YAML."""

        def plain(v: Any) -> Any:
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            return v

        return plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`; missing keys keep their defaults, unknown keys raise ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown keys {unknown} (known: {sorted(names)})")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            hint = hints[name]
            if isinstance(hint, type) and issubclass(hint, _DictMixin):
                value = hint.from_dict(value)
            elif typing.get_origin(hint) is tuple and isinstance(value, list):
                value = tuple(value)
            elif isinstance(hint, types.UnionType) and isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)


@dataclass
class ImuEncoderConfig(_DictMixin):
    """One wrist's IMU encoder (:class:`~toolkit.models.imu_encoder.ImuEncoder`).

    Input windows are (B, L, in_channels); L is free (any L >= num_tokens), the stem pools it to
    ``num_tokens`` tokens.
    """

    in_channels: int = 6  #: acc x,y,z [m/s^2] + gyro x,y,z [rad/s], normalised by the trainer
    stem_channels: int = 128  #: width of the first conv of the stem
    stem_kernel: int = 5  #: kernel of both stem convs (odd: 'same' padding)
    num_tokens: int = 6  #: tokens after temporal pooling (the paper's H has 6 rows)
    embed_dim: int = 256  #: token width (H is (B, num_tokens, embed_dim))
    depth: int = 2  #: transformer blocks
    num_heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    activation: str = "gelu"
    out_dim: int = 256  #: pooled embedding e (shared latent space)

    def __post_init__(self) -> None:
        _check_heads(self.embed_dim, self.num_heads, "ImuEncoderConfig")
        _check(self.stem_kernel % 2 == 1, f"ImuEncoderConfig: stem_kernel must be odd, got {self.stem_kernel}")
        _check(self.num_tokens >= 1 and self.depth >= 0, "ImuEncoderConfig: num_tokens >= 1 and depth >= 0")
        _check(self.activation in ACTIVATIONS, f"ImuEncoderConfig: activation must be one of {ACTIVATIONS}")


@dataclass
class PoseEncoderConfig(_DictMixin):
    """PoseFormer-style pose encoder (:class:`~toolkit.models.pose_encoder.PoseEncoder`).

    Input (B, num_frames, num_joints, 3) axis-angle [rad]. ``num_frames`` is fixed because the
    temporal positional embedding is learned per frame.
    """

    num_joints: int = 24  #: SMPL tree; 52 for SMPL-H body (22) + two MANO hands (2 x 15)
    num_frames: int = 120  #: pose frames per window (2 s at 60 Hz)
    spatial_dim: int = 32  #: per-joint token width
    spatial_depth: int = 2
    spatial_heads: int = 4
    temporal_dim: int = 256  #: per-frame token width after flattening the joints
    temporal_depth: int = 2
    temporal_heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    activation: str = "gelu"
    out_dim: int = 256

    def __post_init__(self) -> None:
        _check_heads(self.spatial_dim, self.spatial_heads, "PoseEncoderConfig (spatial)")
        _check_heads(self.temporal_dim, self.temporal_heads, "PoseEncoderConfig (temporal)")
        _check(self.num_joints >= 1 and self.num_frames >= 1, "PoseEncoderConfig: num_joints, num_frames >= 1")
        _check(self.activation in ACTIVATIONS, f"PoseEncoderConfig: activation must be one of {ACTIVATIONS}")


@dataclass
class TextEncoderConfig(_DictMixin):
    """1-D ResNet over a frozen sentence embedding (:class:`~toolkit.models.text_encoder.TextEncoder`)."""

    in_dim: int = 384  #: sentence-embedding size (all-MiniLM-L6-v2)
    stem_channels: int = 32
    channels: tuple[int, ...] = (32, 64, 128)  #: one residual block per entry (the paper: three)
    kernel_size: int = 5
    stride: int = 2  #: temporal stride of the stem and of every block
    out_dim: int = 256

    def __post_init__(self) -> None:
        _check(len(self.channels) >= 1, "TextEncoderConfig: channels must name at least one block")
        _check(self.kernel_size % 2 == 1, f"TextEncoderConfig: kernel_size must be odd, got {self.kernel_size}")
        _check(self.stride >= 1, "TextEncoderConfig: stride >= 1")


@dataclass
class DecoderConfig(_DictMixin):
    """Pose2IMU decoder and IMU reconstructor (:mod:`toolkit.models.decoders`)."""

    in_dim: int = 256  #: latent embedding size
    window_length: int = 120  #: output samples L (IMU rate)
    channels: tuple[int, int, int, int] = (128, 128, 64, 32)  #: seed width, then one per upsampling stage
    kernel_size: int = 5
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check(len(self.channels) == 4, "DecoderConfig: channels needs 4 entries (seed + 3 stages)")
        _check(self.kernel_size % 2 == 1, f"DecoderConfig: kernel_size must be odd, got {self.kernel_size}")
        _check(self.window_length >= 1, "DecoderConfig: window_length >= 1")


@dataclass
class ClassifierConfig(_DictMixin):
    """Downstream MoE head on the IMU tokens H (:mod:`toolkit.models.classifier`)."""

    num_classes: int = 5
    wrists: int = 1  #: 1 or 2 IMU encoders; 2 concatenates their tokens along features
    hidden_dim: int = 128
    conv_kernel: int = 3  #: Conv1d along the token axis (odd)
    num_stages: int = 2  #: attention + FFN stages (the paper: two)
    num_heads: int = 4
    num_experts: int = 4  #: the paper's tables: 1, 2, 4, 8, 16
    expert_hidden: int = 64  #: hidden width of each expert MLP; 0 makes every expert one Linear
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check(self.wrists in (1, 2), f"ClassifierConfig: wrists must be 1 or 2, got {self.wrists}")
        _check(self.num_classes >= 2, "ClassifierConfig: num_classes >= 2")
        _check(self.num_experts >= 1, "ClassifierConfig: num_experts >= 1")
        _check(self.conv_kernel % 2 == 1, f"ClassifierConfig: conv_kernel must be odd, got {self.conv_kernel}")
        _check_heads(self.hidden_dim, self.num_heads, "ClassifierConfig")


@dataclass
class LossConfig(_DictMixin):
    """Weights of the pretraining objective (:func:`~toolkit.models.losses.pretrain_loss`)."""

    tau: float = 0.07  #: InfoNCE temperature (the paper)
    w_contrastive: float = 1.0
    w_pose2imu: float = 1.0
    w_reconstruction: float = 1.0
    #: contrastive pairs as "a-b" names (e.g. "pose-imu_left"); None = all 6 pairs of MODALITIES
    pairs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check(self.tau > 0, f"LossConfig: tau must be > 0, got {self.tau}")
        for p in self.pairs or ():
            a, _, b = p.partition("-")
            _check(a in MODALITIES and b in MODALITIES and a != b, f"LossConfig: bad pair {p!r}")


@dataclass
class Multi3NetConfig(_DictMixin):
    """The whole pretraining model plus the downstream head's config."""

    imu: ImuEncoderConfig = field(default_factory=ImuEncoderConfig)
    pose: PoseEncoderConfig = field(default_factory=PoseEncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    ablation: str = "full"  #: one of ABLATIONS

    def __post_init__(self) -> None:
        dims = {"imu": self.imu.out_dim, "pose": self.pose.out_dim, "text": self.text.out_dim}
        dims["decoder.in_dim"] = self.decoder.in_dim
        _check(len(set(dims.values())) == 1, f"Multi3NetConfig: embedding sizes must agree, got {dims}")
        _check(self.ablation in ABLATIONS, f"Multi3NetConfig: ablation must be one of {ABLATIONS}")

    @property
    def embed_dim(self) -> int:
        """Size of the shared latent space (every encoder's ``out_dim``)."""
        return self.imu.out_dim

    @classmethod
    def default(cls) -> Multi3NetConfig:
        """Close to the paper: 256-d embeddings, 6 tokens, 120-sample windows (2 s at 60 Hz)."""
        return cls()

    @classmethod
    def tiny(cls) -> Multi3NetConfig:
        """Tens of thousands of parameters in all; 24-sample windows and 8 pose frames, for fast tests."""
        d = 16
        return cls(
            imu=ImuEncoderConfig(
                stem_channels=8, stem_kernel=3, embed_dim=d, depth=1, num_heads=2, mlp_ratio=2.0, out_dim=d
            ),
            pose=PoseEncoderConfig(
                num_frames=8,
                spatial_dim=4,
                spatial_depth=1,
                spatial_heads=1,
                temporal_dim=d,
                temporal_depth=1,
                temporal_heads=2,
                out_dim=d,
            ),
            text=TextEncoderConfig(stem_channels=4, channels=(4, 8, 8), kernel_size=3, stride=4, out_dim=d),
            decoder=DecoderConfig(in_dim=d, window_length=24, channels=(8, 8, 8, 8), kernel_size=3),
            classifier=ClassifierConfig(num_classes=4, hidden_dim=8, num_heads=2, num_experts=4, expert_hidden=8),
        )
