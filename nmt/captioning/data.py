"""Captioning data: TSV files of (image path, caption) -> images decoded once into a memory-mapped
uint8 array (N, H, W, C) beside the captions' token arrays, and batches of (images, captions) by
caption length with a position that saves and restores exactly.

    data/{split}.images.u8   the images, resized to image.height x image.width
    data/{split}.tgt         the captions as text (dev: the references); {split}.tgt.bin/.idx.npy their ids
    data/{split}.paths       where each image came from
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from nmt.batching import Batch, EpochPosition, TokenArray, collate, make_batches, shard, write_token_array
from nmt.captioning.config import CaptionConfig, ImageConfig
from nmt.config_files import save_config
from nmt.data import clean_text, read_lines
from nmt.errors import DataError
from nmt.prepare import fingerprint
from nmt.tokenizer import Tokenizer, train_sentencepiece

Log = Callable[[str], None]
RECORD = "prepared.json"


class ImageError(Exception):
    """An image that cannot be read: the message names it and says why."""


def read_image(source: str | Path | bytes, image: ImageConfig, *, name: str = "the image") -> np.ndarray:
    """An image file, or a file's bytes (`name` then says what it is), as (H, W, C) uint8 at the
    configured size: PNG, JPEG, ... and SVG; transparency is laid on white. Raises ImageError
    naming the file."""
    import io

    from PIL import Image, UnidentifiedImageError

    label = name if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            is_svg = source.lstrip()[:5] in (b"<svg ", b"<svg>", b"<?xml")
            data = rasterise_svg(source, image.width * 2, image.height * 2, name=label) if is_svg else source
            opened = Image.open(io.BytesIO(data))
        elif Path(source).suffix.lower() == ".svg":
            opened = Image.open(io.BytesIO(rasterise_svg(Path(source), image.width * 2, image.height * 2)))
        else:
            opened = Image.open(source)
        opened.load()  # a truncated file fails here, not later
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{label}: not a readable image ({err})") from None
    rgba = opened.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("RGB" if image.channels == 3 else "L")
    if image.trim:
        flat = _trimmed(flat, image.width / image.height)
    resized = flat.resize((image.width, image.height), Image.Resampling.LANCZOS)
    pixels = np.asarray(resized, dtype=np.uint8)
    return pixels if pixels.ndim == 3 else pixels[:, :, None]  # (H, W) -> (H, W, 1)


TRIM_INK = 245  # a pixel darker than this on any channel is drawn on
TRIM_MARGIN = 0.05  # of the box's longer side, on every side


def _trimmed(flat, aspect: float):
    """A white-backed PIL image cut to its ink's box, centred on white at `aspect` (width / height)
    with a margin; an image without ink as it is."""
    from PIL import Image

    pixels = np.asarray(flat, dtype=np.uint8)  # (H, W) grey or (H, W, 3)
    ink = (pixels if pixels.ndim == 2 else pixels.min(axis=2)) < TRIM_INK
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not len(rows):
        return flat
    box = flat.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
    margin = round(TRIM_MARGIN * max(box.size))
    width = max(box.width + 2 * margin, round((box.height + 2 * margin) * aspect))
    height = max(box.height + 2 * margin, round(width / aspect))
    canvas = Image.new(flat.mode, (width, height), "white")
    canvas.paste(box, ((width - box.width) // 2, (height - box.height) // 2))
    return canvas


def rasterise_svg(source: Path | bytes, width: int, height: int, *, name: str = "the image") -> bytes:
    """An SVG file (or its bytes) as PNG bytes of width x height, with resvg (resvg-py, a dependency),
    else cairosvg. Raises ImageError naming the file."""
    import importlib.util

    label = name if isinstance(source, bytes) else str(source)
    try:
        if importlib.util.find_spec("resvg_py") is not None:
            import resvg_py

            if isinstance(source, bytes):
                return bytes(resvg_py.svg_to_bytes(svg_string=source.decode("utf-8"), width=width, height=height))
            return bytes(resvg_py.svg_to_bytes(svg_path=str(source), width=width, height=height))
        import cairosvg

        if isinstance(source, bytes):
            return cairosvg.svg2png(bytestring=source, output_width=width, output_height=height)
        return cairosvg.svg2png(url=str(source), output_width=width, output_height=height)
    except ImportError:
        raise ImageError(f"{label}: SVG needs resvg-py or cairosvg (pip install resvg-py)") from None
    except (ValueError, OSError) as err:  # UnicodeDecodeError is a ValueError
        raise ImageError(f"{label}: not a readable SVG ({err})") from None


def read_captions(path: str | Path) -> list[tuple[Path, str]]:
    """(image path, caption) pairs of a TSV file; a malformed line names the file and line."""
    path = Path(path)
    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        image, tab, caption = line.partition("\t")
        caption = clean_text(caption)
        if not tab or not image or not caption:
            raise DataError(f"data: {path} line {number}: expected an image path, a TAB and a caption")
        pairs.append((path.parent / image, caption))
    if not pairs:
        raise DataError(f"data: {path} holds no captions")
    return pairs


def images_path(data_dir: Path, split: str) -> Path:
    return data_dir / f"{split}.images.u8"


def open_images(data_dir: Path, split: str) -> np.ndarray:
    """The split's images, (N, H, W, C) uint8, memory-mapped read-only."""
    shape = json.loads((data_dir / f"{split}.images.json").read_text())["shape"]
    return np.memmap(images_path(data_dir, split), dtype=np.uint8, mode="r", shape=tuple(shape))


def _write_images(paths: list[Path], image: ImageConfig, data_dir: Path, split: str, log: Log) -> None:
    """Decode every image once into one array; a bad image stops preparation, naming it."""
    shape = (len(paths), image.height, image.width, image.channels)
    tmp = images_path(data_dir, split).with_suffix(".u8.tmp")
    array = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
    for index, path in enumerate(paths):
        try:
            array[index] = read_image(path, image)
        except ImageError as err:
            raise DataError(f"data: {split} image {index + 1}: {err}") from None
        if (index + 1) % 5000 == 0:
            log(f"{split}: {index + 1:,} of {len(paths):,} images decoded")
    array.flush()
    del array
    (data_dir / f"{split}.images.json").write_text(json.dumps({"shape": list(shape)}))
    tmp.replace(images_path(data_dir, split))


def _splits(cfg: CaptionConfig) -> dict[str, Path]:
    splits = {"train": Path(cfg.data.train.captions), "dev": Path(cfg.data.dev.captions)}
    if cfg.data.test is not None and cfg.data.test.captions:
        splits["test"] = Path(cfg.data.test.captions)
    return splits


def _identity(cfg: CaptionConfig, tokenizer_from: Path | None) -> str:
    """What the prepared data depends on: the caption files (size and time), the image and tokenizer
    settings, and the SentencePiece model reused from a trained model (fine-tuning)."""
    files = {split: [str(path), path.stat().st_size, path.stat().st_mtime_ns] if path.exists() else str(path)
             for split, path in _splits(cfg).items()}
    reused = hashlib.sha256((tokenizer_from / "spm.model").read_bytes()).hexdigest() if tokenizer_from else None
    return fingerprint(files, cfg.image.height, cfg.image.width, cfg.image.channels, dataclasses.asdict(cfg.tokenizer),
                       reused, *(["trim"] if cfg.image.trim else []))


def prepare(cfg: CaptionConfig, *, log: Log, tokenizer_from: Path | None = None) -> dict:
    """Images and captions of every split into exp_dir/data, a SentencePiece model of the training
    captions into exp_dir/spm.model (or `tokenizer_from`'s, an experiment directory's, when fine-tuning
    from it); reused while the inputs and settings are the same."""
    exp_dir = Path(cfg.exp_dir)
    data_dir = exp_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, exp_dir / "config.yaml")
    if tokenizer_from is not None and not (tokenizer_from / "spm.model").is_file():
        raise DataError(f"tokenizer: {tokenizer_from / 'spm.model'} is missing: the SentencePiece model to reuse")
    key = _identity(cfg, tokenizer_from)
    record_path = data_dir / RECORD
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    if record.get("key") == key and (exp_dir / "spm.model").exists():
        log(f"reusing the prepared images and captions in {data_dir}")
        return dict(record["summary"])
    captions = {}
    for split, tsv in _splits(cfg).items():
        pairs = read_captions(tsv)
        (data_dir / f"{split}.paths").write_text("".join(f"{p}\n" for p, _ in pairs), encoding="utf-8")
        (data_dir / f"{split}.tgt").write_text("".join(f"{c}\n" for _, c in pairs), encoding="utf-8")
        _write_images([p for p, _ in pairs], cfg.image, data_dir, split, log)
        captions[split] = [c for _, c in pairs]
    if tokenizer_from is not None:
        for suffix in (".model", ".vocab"):
            if (tokenizer_from / f"spm{suffix}").exists():
                shutil.copyfile(tokenizer_from / f"spm{suffix}", exp_dir / f"spm{suffix}")
        log(f"using the SentencePiece model of {tokenizer_from}")
    else:
        train_sentencepiece([data_dir / "train.tgt"], exp_dir / "spm", model_type=cfg.tokenizer.model_type,
                            vocab_size=cfg.tokenizer.vocab_size, character_coverage=cfg.tokenizer.character_coverage,
                            input_sentence_size=cfg.tokenizer.input_sentence_size)
    tokenizer = Tokenizer.load(exp_dir)
    tokens = {split: write_token_array(tokenizer.encode_tgt(texts), data_dir / f"{split}.tgt",
                                       vocab_size=tokenizer.tgt_vocab_size) for split, texts in captions.items()}
    summary = {"images": {split: len(texts) for split, texts in captions.items()}, "caption_tokens": tokens,
               "vocab_size": tokenizer.tgt_vocab_size}
    record_path.write_text(json.dumps({"key": key, "summary": summary}))
    return summary


def format_summary(summary: dict, cfg: CaptionConfig) -> str:
    h, w = cfg.image.grid()
    splits = ", ".join(f"{split} {n:,}" for split, n in summary["images"].items())
    return (f"captioning: {splits} images of {cfg.image.height} x {cfg.image.width} (a {h} x {w} grid); "
            f"{summary['vocab_size']:,} caption pieces; in {Path(cfg.exp_dir) / 'data'}")


def cached_grids(encoder, data_dir: Path, split: str, *, device, log: Log) -> np.ndarray:
    """A frozen pretrained encoder's backbone grids of the split's images, (N, h, w, C) float16, computed
    once into data_dir and memory-mapped: training then never runs the backbone. Recomputed when the
    prepared images or the stride change."""
    import torch

    images = open_images(data_dir, split)
    key = json.loads((data_dir / RECORD).read_text())["key"]
    path, meta_path = data_dir / f"{split}.grid-s{encoder.stride}.f16", data_dir / f"{split}.grid-s{encoder.stride}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("key") == key and path.exists():
        return np.memmap(path, dtype=np.float16, mode="r", shape=tuple(meta["shape"]))
    log(f"{split}: the pretrained encoder's grid of {len(images):,} images, computed once into {path}")
    tmp, array = path.with_suffix(f".tmp{os.getpid()}"), None  # each process of a torchrun writes its own
    with torch.no_grad():
        for start in range(0, len(images), 64):
            chunk = torch.from_numpy(np.array(images[start:start + 64])).to(device)  # a copy: the images are read-only
            grid = encoder.backbone_grid(chunk).permute(0, 2, 3, 1).to(torch.float16).cpu().numpy()  # (B, h, w, C)
            if array is None:
                array = np.memmap(tmp, dtype=np.float16, mode="w+", shape=(len(images), *grid.shape[1:]))
            array[start:start + len(grid)] = grid
    assert array is not None
    array.flush()
    shape = list(array.shape)
    del array
    tmp.replace(path)
    meta_path.write_text(json.dumps({"key": key, "shape": shape}))
    return np.memmap(path, dtype=np.float16, mode="r", shape=tuple(shape))


class CaptionBatches(EpochPosition):
    """Epochs of (images, captions) batches grouped by caption length, sharded over processes, with
    a position that can be saved and restored exactly (the EpochIterator of nmt/tasks.py)."""

    def __init__(self, images: np.ndarray, captions: TokenArray, *, positions: int, batch_tokens: int,
                 batch_size: int | None, seed: int, max_tgt_tokens: int | None = None, rank: int = 0,
                 world_size: int = 1, augment: Sequence[str] = ()):
        """`augment`: nmt/captioning/augment.py's redrawings, drawn from the batch's place (seed, epoch,
        position, rank), so a resumed run redraws its images the same."""
        self.images, self.captions, self.positions = images, captions, positions
        self.augment = list(augment)
        self.batch_tokens, self.batch_size, self.seed = batch_tokens, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.keep = captions.lengths <= max_tgt_tokens if max_tgt_tokens else np.ones(len(captions), dtype=bool)
        self.n_left_out = int((~self.keep).sum())
        self.epoch, self.position = 1, 0

    def epoch_plan(self, epoch: int) -> list[np.ndarray]:
        """This process's batches of the epoch, as image indices (an image's own cost is one position)."""
        batches = make_batches(np.zeros(len(self.captions), dtype=np.int64), self.captions.lengths,
                               batch_tokens=self.batch_tokens, batch_size=self.batch_size, seed=self.seed,
                               epoch=epoch, keep=self.keep)
        return shard(batches, rank=self.rank, world_size=self.world_size)

    def __iter__(self) -> Iterator:
        plan = self.epoch_plan(self.epoch)
        while self.position < len(plan):
            indices = plan[self.position]
            self.position += 1  # consumed before it is used: a checkpoint after the update resumes with the next
            batch = image_batch(self.images, indices, self.positions, [self.captions[i] for i in indices])
            if self.augment:
                from nmt.captioning.augment import augment_images

                batch.src = augment_images(batch.src, self.augment, self._generator(self.position))
            yield batch
        self.epoch, self.position = self.epoch + 1, 0


    def _generator(self, position: int):
        import torch

        state = np.random.SeedSequence([self.seed, self.epoch, position, self.rank]).generate_state(2, np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def image_batch(images: np.ndarray, indices, positions: int, captions=None) -> Batch:
    """A Batch whose source is images (B, H, W, C) uint8: translation's loss and search take it as they
    take a sentence batch; `src_lengths` says how many grid positions each image gives."""
    import torch

    indices = np.asarray(indices)
    shifted = collate([np.zeros(0, dtype=np.int64)] * len(indices), captions, indices) if captions is not None else None
    return Batch(src=torch.from_numpy(np.ascontiguousarray(images[indices])),
                 src_lengths=torch.full((len(indices),), positions, dtype=torch.long),
                 tgt_in=shifted.tgt_in if shifted else None, tgt_out=shifted.tgt_out if shifted else None,
                 indices=torch.from_numpy(indices.astype(np.int64)))
