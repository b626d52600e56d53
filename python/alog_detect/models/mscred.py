"""MSCRED (Zhang et al., AAAI 2019): multi-scale signature matrices, conv encoder, attention
ConvLSTM at each level, mirrored deconvolution decoder.

Input ``x``: float32 ``(batch, steps, scales, n, n)`` with ``n`` a multiple of 8 (the template
count padded with zero rows); output ``recon``: ``(batch, scales, n, n)``, the reconstruction of
the last step's signature matrices. Scoring (residual cells over a threshold) is done outside the
graph, identically by the Python reference and the C engine.

Written for export with a static window and a dynamic batch: reshapes use -1 for the batch, and
the ConvLSTM's first step uses only the input convolution (its state is zero), so the graph needs
no Shape/ConstantOfShape/Expand to build zero states.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

ATTENTION_RESCALE = 5.0  # the paper's chi
# Encoder channels per level. The default is sized for devices (issue 14): about 1.7 MB of float32
# weights, about 16x fewer than the paper's widths, which stay available (--channels 32,64,128,256,
# scons mscred_channels=32,64,128,256); docs/results.md ("sample") measures both on the sample.
EDGE_CHANNELS = (8, 16, 32, 64)
PAPER_CHANNELS = (32, 64, 128, 256)


@dataclasses.dataclass(frozen=True)
class MSCREDConfig:
    n: int                      # matrix side: template count padded to a multiple of 8
    scales: int = 3
    steps: int = 5
    channels: tuple[int, int, int, int] = EDGE_CHANNELS

    def __post_init__(self):
        if self.n < 8 or self.n % 8:
            raise ValueError(f"n must be a positive multiple of 8, got {self.n}")
        if self.scales < 1 or self.steps < 1:
            raise ValueError("scales and steps must be >= 1")
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError(f"channels must be 4 positive ints, got {self.channels}")


class ConvLSTM(nn.Module):
    """A ConvLSTM cell unrolled over the time axis; returns every step's hidden state."""

    def __init__(self, channels: int, kernel: int = 3):
        super().__init__()
        self.channels = channels
        self.conv_x = nn.Conv2d(channels, 4 * channels, kernel, padding=kernel // 2)
        self.conv_h = nn.Conv2d(channels, 4 * channels, kernel, padding=kernel // 2, bias=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        hs = []
        h = c = None
        for x in xs:                                  # x: (batch, C, H, W)
            gates = self.conv_x(x)
            if h is not None:
                gates = gates + self.conv_h(h)
            i, f, g, o = torch.split(gates, self.channels, dim=1)
            i, f, o, g = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(g)
            c = i * g if c is None else f * c + i * g
            h = o * torch.tanh(c)
            hs.append(h)
        return hs


def temporal_attention(hs: list[torch.Tensor]) -> torch.Tensor:
    """Weight each step's state by its similarity to the last one (softmax over steps)."""
    stacked = torch.stack(hs, dim=1)                              # (batch, T, C, H, W)
    last = hs[-1].unsqueeze(1)                                    # (batch, 1, C, H, W)
    scores = (stacked * last).sum(dim=(2, 3, 4)) / ATTENTION_RESCALE  # (batch, T)
    alpha = torch.softmax(scores, dim=1)                          # (batch, T)
    return (stacked * alpha[:, :, None, None, None]).sum(dim=1)   # (batch, C, H, W)


class MSCRED(nn.Module):
    def __init__(self, config: MSCREDConfig):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.channels
        s = config.scales
        self.enc1 = nn.Conv2d(s, c1, 3, stride=1, padding=1)
        self.enc2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc3 = nn.Conv2d(c2, c3, 2, stride=2)
        self.enc4 = nn.Conv2d(c3, c4, 2, stride=2)
        self.lstm1, self.lstm2 = ConvLSTM(c1), ConvLSTM(c2)
        self.lstm3, self.lstm4 = ConvLSTM(c3), ConvLSTM(c4)
        self.dec4 = nn.ConvTranspose2d(c4, c3, 2, stride=2)
        self.dec3 = nn.ConvTranspose2d(2 * c3, c2, 2, stride=2)
        self.dec2 = nn.ConvTranspose2d(2 * c2, c1, 3, stride=2, padding=1, output_padding=1)
        self.dec1 = nn.ConvTranspose2d(2 * c1, s, 3, stride=1, padding=1)
        self.act = nn.SELU()

    def _per_step(self, x: torch.Tensor, steps: int) -> list[torch.Tensor]:
        return [t.squeeze(1) for t in torch.split(x, 1, dim=1)] if steps > 1 else [x.squeeze(1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, steps, scales, n, n)
        cfg = self.config
        n = cfg.n
        t = cfg.steps
        flat = x.reshape(-1, cfg.scales, n, n)                      # (batch*steps, scales, n, n)
        e1 = self.act(self.enc1(flat))                              # (b*t, c1, n, n)
        e2 = self.act(self.enc2(e1))                                # (b*t, c2, n/2, n/2)
        e3 = self.act(self.enc3(e2))                                # (b*t, c3, n/4, n/4)
        e4 = self.act(self.enc4(e3))                                # (b*t, c4, n/8, n/8)
        levels = []
        # Sizes come from the config, never from tensor.shape, so tracing records constants
        # (a traced .shape would become Shape/Gather nodes in the exported graph).
        sides = (n, n // 2, n // 4, n // 8)
        encoded = ((e1, self.lstm1), (e2, self.lstm2), (e3, self.lstm3), (e4, self.lstm4))
        for (e, lstm), ch, side in zip(encoded, cfg.channels, sides):
            per_step = e.reshape(-1, t, ch, side, side)           # (batch, steps, ch, side, side)
            levels.append(temporal_attention(lstm(self._per_step(per_step, t))))
        a1, a2, a3, a4 = levels
        d4 = self.act(self.dec4(a4))                                # (b, c3, n/4, n/4)
        d3 = self.act(self.dec3(torch.cat([d4, a3], dim=1)))        # (b, c2, n/2, n/2)
        d2 = self.act(self.dec2(torch.cat([d3, a2], dim=1)))        # (b, c1, n, n)
        return self.dec1(torch.cat([d2, a1], dim=1))                # (b, scales, n, n)
