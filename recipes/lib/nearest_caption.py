#!/usr/bin/env python3
"""The retrieval baseline of a captioning recipe: each test image gets the caption of the training
image nearest to it (Euclidean distance between the images, read as the captioner reads them and
shrunk to SIZE x SIZE, or HEIGHT x WIDTH). A test set that retrieval passes measures memory, not reading.

    nearest_caption.py --train TRAIN_TSV --test TEST_TSV [--size 32 | --height 16 --width 80] > HYP
"""

from __future__ import annotations

import argparse

import numpy as np

from nmt.captioning.config import ImageConfig
from nmt.captioning.data import read_captions, read_image


def pictures(tsv: str, height: int, width: int, channels: int) -> tuple[np.ndarray, list[str]]:
    pairs = read_captions(tsv)
    image = ImageConfig(height=height, width=width, channels=channels)  # type: ignore[arg-type]
    return np.stack([read_image(path, image).reshape(-1) for path, _ in pairs]).astype(np.float32), [c for _, c in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--height", type=int, help="instead of --size, for images that are not square")
    parser.add_argument("--width", type=int)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=3)
    args = parser.parse_args()
    shape = (args.height or args.size, args.width or args.size, args.channels)
    train, captions = pictures(args.train, *shape)
    test, _ = pictures(args.test, *shape)
    # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same for every candidate of one test image
    distances = (train**2).sum(1)[None, :] - 2.0 * test @ train.T
    for index in distances.argmin(1):
        print(captions[index])


if __name__ == "__main__":
    main()
