"""The service's captioning models, without HTTP: check a request, caption one image (given as its
file's bytes) with n-best and each piece's attention as an h x w grid, and hand out the model's
own test images as examples for the page. Images are captioned one request at a time (a lock):
an image is a batch's worth of work for a CPU already.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from typing import Any

import numpy as np

from nmt.captioning.data import ImageError, open_images, read_image
from nmt.captioning.task import LoadedCaptioner, grid
from nmt.serve.service import RequestError

MAX_EXAMPLES = 24  # test images the page offers


class CaptionService:
    def __init__(self, models: dict[str, LoadedCaptioner], *, device: str = "cpu", max_beam: int = 16,
                 max_bytes: int = 5_000_000):
        self.models, self.device, self.max_beam, self.max_bytes = models, device, max_beam, max_bytes
        self.default_model = next(iter(models)) if models else None
        self._lock = threading.Lock()

    def describe(self) -> list[dict]:
        return [{"name": name, "task": "captioning", "variant": m.cfg.model.variant, "cell": m.cfg.model.cell,
                 "lang": m.cfg.data.lang, "beam_size": m.cfg.decode.beam_size, "grid": list(grid(m.cfg)),
                 "examples": len(self._examples(name))} for name, m in self.models.items()]

    def _model(self, name: str | None) -> str:
        name = name if name is not None else self.default_model
        if name not in self.models:
            known = ", ".join(self.models) or "none"
            raise RequestError(404, f"model: unknown captioning model {name!r}; this server has {known}")
        return name

    def caption(self, model: str | None, image: bytes, *, beam: int | None = None, nbest: int = 3) -> dict[str, Any]:
        """The n-best captions of one image, each with its pieces and, per piece, the attention grid."""
        name = self._model(model)
        loaded = self.models[name]
        beam = beam if beam is not None else loaded.cfg.decode.beam_size
        if not 1 <= beam <= self.max_beam:
            raise RequestError(422, f"beam: {beam} is out of range: expected 1 to {self.max_beam}")
        nbest = max(1, min(nbest, beam))
        if not image:
            raise RequestError(422, "image: empty; give an image file's bytes (base64 in JSON)")
        if len(image) > self.max_bytes:
            raise RequestError(413, f"image: {len(image):,} bytes; the limit is {self.max_bytes:,}")
        try:
            pixels = read_image(image, loaded.cfg.image, name="image")
        except ImageError as err:
            raise RequestError(422, str(err)) from None
        decode = dataclasses.replace(loaded.cfg.decode, method="beam", beam_size=beam, nbest=nbest)
        with self._lock:
            (result,) = loaded.captioner(decode=decode, device=self.device, keep_attention=True).caption(pixels[None])
        h, w = grid(loaded.cfg)
        pieces = loaded.tokenizer.tgt.id_to_piece
        return {"model": name, "grid": [h, w], "captions": [{
            "text": hyp.text, "score": round(hyp.score, 4),
            "pieces": [pieces(int(i)) for i in hyp.tokens] + ["</s>"],
            "attention": ([[[round(float(v), 4) for v in row] for row in step.view(h, w)] for step in hyp.attention]
                          if hyp.attention is not None else None),
        } for hyp in result]}

    def _examples(self, name: str) -> np.ndarray:
        """The model's prepared test images (dev where it has no test set), as it saw them."""
        data = self.models[name].exp_dir / "data"
        for split in ("test", "dev"):
            if (data / f"{split}.images.json").exists():
                return open_images(data, split)[:MAX_EXAMPLES]
        return np.zeros((0, 1, 1, 3), dtype=np.uint8)

    def example_png(self, model: str | None, index: int) -> bytes:
        from PIL import Image

        name = self._model(model)
        examples = self._examples(name)
        if not 0 <= index < len(examples):
            raise RequestError(404, f"example: {index} is out of range: {name} has {len(examples)} (0 to {len(examples) - 1})")
        picture = examples[index]
        buffer = io.BytesIO()
        Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else np.asarray(picture)).save(buffer, format="PNG")
        return buffer.getvalue()
