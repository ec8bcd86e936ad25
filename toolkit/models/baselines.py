"""Baseline HAR networks trained from scratch on the target data."""

from __future__ import annotations

from torch import Tensor, nn


class DeepConvLSTM(nn.Module):
    """DeepConvLSTM (Ordonez & Roggen, Sensors 2016), 1-D version for (B, L, C) windows.

    Four Conv1d layers (``conv_filters`` filters, kernel 5, no padding, ReLU) along time, so the
    sequence shrinks by 4 * (kernel - 1) = 16 samples; dropout; two LSTM layers of ``lstm_units``
    (dropout between them); dropout; Linear on the LAST time step -> logits (B, num_classes).
    """

    def __init__(
        self,
        in_channels: int = 6,
        num_classes: int = 5,
        conv_filters: int = 64,
        kernel_size: int = 5,
        lstm_units: int = 128,
        lstm_layers: int = 2,
        dropout: float = 0.5,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(4):
            layers += [nn.Conv1d(c, conv_filters, kernel_size), nn.ReLU()]
            c = conv_filters
        self.convs = nn.Sequential(*layers)
        self.shrink = 4 * (kernel_size - 1)
        self.in_channels = in_channels
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(conv_filters, lstm_units, num_layers=lstm_layers, batch_first=True, dropout=dropout)
        self.out = nn.Linear(lstm_units, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, L, C) with L > 16 -> logits (B, num_classes)."""
        if x.dim() != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(f"expected (B, L, {self.in_channels}) windows, got {tuple(x.shape)}")
        if x.shape[1] <= self.shrink:
            raise ValueError(f"DeepConvLSTM needs windows longer than {self.shrink} samples, got {x.shape[1]}")
        h = self.convs(x.transpose(1, 2)).transpose(1, 2)  # (B, L - 16, filters)
        seq, _ = self.lstm(self.drop(h))  # (B, L - 16, units)
        return self.out(self.drop(seq[:, -1]))
