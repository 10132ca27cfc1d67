"""The NuClick network: multi-scale and residual convolution blocks in an encoder-decoder.

Follows the paper's design (a 7/5/3 convolution stem, residual blocks doubling the width at
each of five poolings, multi-scale blocks with dilated kernels near the ends, transposed
convolutions back up, a 1×1 sigmoid head), with a ``width`` factor so a slim version trains
on a CPU; width 64 gives the paper's 64→1024 channels. Input: 5 channels (RGB in [0, 1],
inclusion map, exclusion map). Output: logits of the clicked nucleus' mask.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k - 1) // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with an identity (or 1×1) shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class MultiScaleBlock(nn.Module):
    """Parallel convolutions of several kernel sizes and dilations, concatenated."""

    def __init__(self, cin: int, cout: int, kernels: tuple[int, ...] = (3, 3, 5, 5), dilations: tuple[int, ...] = (1, 3, 3, 6)):
        super().__init__()
        branch = max(1, cout // len(kernels))
        self.branches = nn.ModuleList(_conv_bn_relu(cin, branch, k, d) for k, d in zip(kernels, dilations))
        self.fuse = _conv_bn_relu(branch * len(kernels), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([b(x) for b in self.branches], dim=1))


class NuClickNet(nn.Module):
    def __init__(self, width: int = 16, in_channels: int = 5):
        super().__init__()
        w = width
        chans = [w, 2 * w, 4 * w, 8 * w, 16 * w]
        self.stem = nn.Sequential(_conv_bn_relu(in_channels, w, 7), _conv_bn_relu(w, w // 2, 5), _conv_bn_relu(w // 2, w // 2, 3))
        self.enc = nn.ModuleList([
            nn.Sequential(ResidualBlock(w // 2, chans[0]), MultiScaleBlock(chans[0], chans[0])),
            nn.Sequential(ResidualBlock(chans[0], chans[1]), ResidualBlock(chans[1], chans[1])),
            nn.Sequential(ResidualBlock(chans[1], chans[2]), MultiScaleBlock(chans[2], chans[2], (3, 3, 5, 7), (1, 3, 2, 6))),
            nn.Sequential(ResidualBlock(chans[2], chans[3]), ResidualBlock(chans[3], chans[3])),
        ])
        self.bottom = nn.Sequential(ResidualBlock(chans[3], chans[4]), ResidualBlock(chans[4], chans[4]))
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(4)))
        self.dec = nn.ModuleList([
            ResidualBlock(2 * chans[3], chans[3]),
            nn.Sequential(ResidualBlock(2 * chans[2], chans[2]), MultiScaleBlock(chans[2], chans[2], (3, 3, 5, 7), (1, 3, 2, 6))),
            ResidualBlock(2 * chans[1], chans[1]),
            nn.Sequential(ResidualBlock(2 * chans[0], chans[0]), MultiScaleBlock(chans[0], chans[0])),
        ])
        self.head = nn.Conv2d(chans[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)
