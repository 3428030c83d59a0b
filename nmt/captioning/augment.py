"""Training images redrawn as another artist might have drawn them, so a captioner learns what is
drawn rather than how one vendor draws it (OpenNMT-py's image-to-text users met models that failed on
images rendered unlike their training set).

Each augmentation reaches a random half of a batch's images, drawn from a generator the caller seeds
from the batch's place in its epoch, so a resumed run draws the same ones:
- `scale`: the drawing shrunk to 65-100 % of the canvas at a random place on white (vendors leave
  different margins: OpenMoji's drawings fill about three quarters of theirs);
- `outline`: a dark line where the colour changes, as in vendors that ink their shapes (OpenMoji);
- `blur`: a soft 3 x 3 blur, so fine texture (Noto's shading, a font's hinting) is no sign to learn;
- `ink`: `outline` drawn as wide as OpenMoji's lines are on the canvas, 1/32 of its height (2 pixels
  at 64, 4 at 128), so dark lines around every shape are no sign of a dark skin tone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("scale", "outline", "ink", "blur")
SMALLEST_SCALE = 0.65
EDGE = 0.25  # a colour step (0-1) as large as this on any channel is drawn as a line
INK = 0.1  # the line's brightness (0-1)


def augment_images(images: torch.Tensor, kinds: list[str] | tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """images (B, H, W, C) uint8 -> the same batch with `kinds` applied, in the order of AUGMENTATIONS."""
    if not kinds or not len(images):
        return images
    pixels = images.permute(0, 3, 1, 2).float() / 255.0  # (B, C, H, W) in [0, 1], white 1
    for kind in AUGMENTATIONS:
        if kind not in kinds:
            continue
        chosen = torch.rand(len(images), generator=generator) < 0.5
        if not chosen.any():
            continue
        redrawn = {"scale": _scale, "outline": _outline, "ink": _ink, "blur": _blur}[kind](pixels[chosen], generator)
        pixels = pixels.clone()
        pixels[chosen] = redrawn
    return (pixels * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _scale(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    batch = len(pixels)
    scale = SMALLEST_SCALE + (1 - SMALLEST_SCALE) * torch.rand(batch, generator=generator)
    # Where the shrunk drawing's centre may go, in the canvas's [-1, 1] coordinates.
    shift = (1 - scale)[:, None] * (2 * torch.rand(batch, 2, generator=generator) - 1)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = -shift / scale[:, None]
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    # Sampled as "ink" (1 - pixel) so outside the drawing is 0 ink: white.
    return 1 - F.grid_sample(1 - pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _outline(pixels: torch.Tensor, generator: torch.Generator, width: int = 2) -> torch.Tensor:
    across = (pixels[:, :, :, 1:] - pixels[:, :, :, :-1]).abs().amax(1, keepdim=True) > EDGE  # (B, 1, H, W-1)
    down = (pixels[:, :, 1:] - pixels[:, :, :-1]).abs().amax(1, keepdim=True) > EDGE  # (B, 1, H-1, W)
    edge = torch.zeros_like(pixels[:, :1], dtype=torch.bool)
    edge[:, :, :, 1:] |= across  # both pixels of a step: a line 2 pixels wide
    edge[:, :, :, :-1] |= across
    edge[:, :, 1:] |= down
    edge[:, :, :-1] |= down
    if width > 2:  # the two-pixel line widened by a pixel either side per step
        spread = width - 1
        edge = F.max_pool2d(edge.float(), spread, stride=1, padding=spread // 2) > 0
    return torch.where(edge, torch.full_like(pixels, INK), pixels)


def _ink(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return _outline(pixels, generator, width=max(2, 2 * (pixels.shape[2] // 64)))


def _blur(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    channels = pixels.shape[1]
    kernel = torch.full((channels, 1, 3, 3), 1 / 9)
    return F.conv2d(F.pad(pixels, (1, 1, 1, 1), mode="replicate"), kernel, groups=channels)
