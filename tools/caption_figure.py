"""Show, Attend and Tell's figure for a trained captioner: each image, then for each piece of its
caption the image under that piece's attention; one row an image, in one PNG. A model without
attention (the summary-vector `context` decoder) gets the image and its caption.

    python tools/caption_figure.py --model EXP --out FIGURE.png IMAGE [IMAGE ...] [--beam 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a captioning experiment directory")
    parser.add_argument("--out", required=True, type=Path, help="the PNG to write")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from nmt.captioning.data import read_image
    from nmt.captioning.task import attention_figure, grid
    from nmt.tasks import load_trained

    loaded = load_trained(args.model, task="captioning")
    decode = dataclasses.replace(loaded.cfg.decode, method="beam", beam_size=args.beam, nbest=1)
    captioner = loaded.captioner(decode=decode, keep_attention=True)
    pictures = np.stack([read_image(path, loaded.cfg.image) for path in args.images])
    rows = []
    for (best,), picture in zip(captioner.caption(pictures), pictures):
        if best.attention is not None:
            pieces = [loaded.tokenizer.tgt.id_to_piece(int(i)) for i in best.tokens] + ["</s>"]
            figure = attention_figure(picture, pieces, best.attention, grid(loaded.cfg))
        else:
            figure, axis = plt.subplots(figsize=(6, 1.9))
            axis.imshow(picture[:, :, 0] if picture.shape[2] == 1 else picture)
            axis.set_title(best.text, fontsize=8), axis.set_xticks([]), axis.set_yticks([])
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        rows.append(Image.open(buffer).convert("RGB"))
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"{args.out}: {len(rows)} images")


if __name__ == "__main__":
    main()
