"""The HTTP face of the service (FastAPI): the translation API, the analysis the page draws, the page.

    POST /v1/translate   {"text": "..." | ["...", ...], "model"?, "beam"?, "nbest"?, "alignments"?}
    POST /v1/analyze     {"text": "...", "model"?, "beam"?, "nbest"?}: n-best, attention, cell activations
    POST /v1/caption     {"image": "<base64 of an image file>", "model"?, "beam"?, "nbest"?}: a captioning
                         model's n-best and each piece's attention as an h x w grid
    GET  /v1/example?model=&index=   a captioning model's test image (PNG), for the page
    GET  /v1/models, GET /health, GET /docs (OpenAPI), GET / (the page), GET /caption (the captioning page)

Every mistake in a request is a 4xx answer {"error": "<what was wrong>"}; the server goes on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Union

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from nmt.serve.batcher import Batcher, QueueFull
from nmt.serve.service import Line, Options, RequestError, Service, line_cost
from nmt.translations import keep_pattern, with_kept_words

if TYPE_CHECKING:  # captioning is torch's; a server of exports runs without it
    from nmt.serve.captions import CaptionService

STATIC = Path(__file__).parent / "static"


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Union[StrictStr, list[StrictStr]]  # one line, or a list of lines
    model: StrictStr | None = None  # a name from GET /v1/models; default the first
    beam: StrictInt | None = None  # default the model's decode.beam_size; 1 is greedy
    nbest: StrictInt = 1
    alignments: StrictBool = False
    prefix: Union[StrictStr, list[StrictStr], None] = None  # the start of each translation (one per line)
    constraints: list[list[StrictStr]] | None = None  # words each line's translation must contain (one list a line)
    keep: StrictStr | None = None  # a regular expression: its matches in a line stay untranslated (required words)
    tags: StrictBool = False  # keep inline tags (<b>...</b>) where the attention puts them


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: StrictStr
    model: StrictStr | None = None
    beam: StrictInt | None = None
    nbest: StrictInt = 3
    prefix: StrictStr | None = None  # what the person has typed of the translation so far


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Union[StrictStr, list[StrictStr]]  # source lines
    target: Union[StrictStr, list[StrictStr]]  # their given translations, one each
    model: StrictStr | None = None
    alignments: StrictBool = False


def _paired(lines: list[str], given: str | list[str] | None, field: str) -> list[Line]:
    """The lines with what the request gave beside each (one string for one line, or one per line)."""
    if given is None:
        return [Line(line) for line in lines]
    others = [given] if isinstance(given, str) else given
    if len(others) != len(lines):
        raise RequestError(422, f"{field}: {len(others)} given for {len(lines)} lines; give one for each line")
    return [Line(line, other) for line, other in zip(lines, others)]


class CaptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: StrictStr  # the image file's bytes, base64 (PNG, JPEG, SVG)
    model: StrictStr | None = None
    beam: StrictInt | None = None
    nbest: StrictInt = 3


def _describe(errors: list[dict]) -> str:
    """pydantic's error list as one sentence that names each field once."""
    by_field: dict[str, list[dict]] = {}
    for error in errors:
        if error.get("type") == "json_invalid":
            return f"the request body is not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
        fields = [str(part) for part in error["loc"] if part != "body"]
        by_field.setdefault(fields[0] if fields else "", []).append(error)
    parts = []
    for name, found in by_field.items():
        if not name:
            parts.append('the request body must be a JSON object such as {"text": "Guten Morgen."}')
        elif name == "text" and len(found) > 1:  # both members of the union refused it
            parts.append(f"text: expected a string or a list of strings, got {type(found[0].get('input')).__name__}")
        else:
            parts.append(f"{name}: {found[0]['msg']}")
    return "; ".join(parts)


# ---------------------------------------------------------------- errors as JSON

async def _invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
    return JSONResponse({"error": _describe(errors)}, status_code=status)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    message = str(error.detail)
    if "error parsing the body" in message:
        message = "the request body could not be read as JSON in UTF-8"
    return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)


async def _refused(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestError)
    headers = {"Retry-After": "1"} if error.status == 503 else None
    return JSONResponse({"error": error.message}, status_code=error.status, headers=headers)


# ---------------------------------------------------------------- routes

router = APIRouter()


def _service(request: Request) -> Service:
    service = request.app.state.service
    if service is None:
        raise RequestError(404, "this server has no translation model; its captioning models answer POST /v1/caption")
    return service


def _captions(request: Request) -> CaptionService:
    captions = request.app.state.captions
    if captions is None:
        raise RequestError(404, "this server has no captioning model; its translation models answer POST /v1/translate")
    return captions


async def _submit(request: Request, chosen: Options, lines: list[Line]) -> list[dict]:
    try:
        return await request.app.state.batcher.submit(chosen, lines)
    except QueueFull as full:
        raise RequestError(503, f"busy: {full}; try again shortly") from None


@router.post("/v1/translate")
async def translate(body: TranslateRequest, request: Request) -> dict:
    """Translate one line or a list of lines; one result per line, in order."""
    service = _service(request)
    lines = [body.text] if isinstance(body.text, str) else body.text
    chosen = service.options(body.model, body.beam, body.nbest, alignments=body.alignments, tags=body.tags)
    service.check_lines(lines)
    paired = _paired(lines, body.prefix, "prefix")
    if body.constraints is not None:
        if len(body.constraints) != len(lines):
            raise RequestError(422, f"constraints: {len(body.constraints)} given for {len(lines)} lines; give one "
                                    "list for each line")
        paired = [line._replace(required=tuple(words)) for line, words in zip(paired, body.constraints)]
    if body.keep is not None:
        try:
            pattern = keep_pattern(body.keep, "keep:")
        except ValueError as err:
            raise RequestError(422, str(err)) from None
        kept = with_kept_words(pattern, lines, [line.required for line in paired], tags=body.tags)
        paired = [line._replace(required=tuple(words)) for line, words in zip(paired, kept or [])]
    return {"model": chosen.model, "translations": await _submit(request, chosen, paired)}


@router.post("/v1/score")
async def score(body: ScoreRequest, request: Request) -> dict:
    """Forced decoding: each given target's log-probability as a translation of its line, piece by
    piece (and the attention with `alignments`); no search."""
    service = _service(request)
    lines = [body.text] if isinstance(body.text, str) else body.text
    chosen = service.options(body.model, 1, 1, alignments=body.alignments, score=True)
    service.check_lines(lines)
    return {"model": chosen.model, "scores": await _submit(request, chosen, _paired(lines, body.target, "target"))}


@router.post("/v1/analyze")
async def analyze(body: AnalyzeRequest, request: Request) -> dict:
    """One line as the page shows it: n-best with attention, encoder and decoder cell activations."""
    service = _service(request)
    chosen = service.options(body.model, body.beam, body.nbest, analyze=True)
    service.check_lines([body.text])
    return (await _submit(request, chosen, [Line(body.text, body.prefix)]))[0]


@router.post("/v1/caption")
async def caption(body: CaptionRequest, request: Request) -> dict:
    """One image's n-best captions, and where each piece of each looked (an h x w grid)."""
    captions = _captions(request)
    try:
        image = base64.b64decode(body.image, validate=True)
    except binascii.Error:
        raise RequestError(422, "image: not base64 (the image file's bytes, base64-encoded)") from None
    return await asyncio.to_thread(captions.caption, body.model, image, beam=body.beam, nbest=body.nbest)


@router.get("/v1/example")
async def example(request: Request, index: int, model: str | None = None) -> Response:
    """A captioning model's own test image, as the model sees it (PNG)."""
    return Response(_captions(request).example_png(model, index), media_type="image/png")


@router.get("/v1/models")
async def models(request: Request) -> dict:
    service, captions = request.app.state.service, request.app.state.captions
    return {"models": service.describe() if service else [], "default": service.default_model if service else None,
            "captioning": captions.describe() if captions else []}


@router.get("/health")
async def health(request: Request) -> dict:
    batcher = request.app.state.batcher
    if batcher is None:
        return {"status": "ok"}
    stats = batcher.stats
    return {"status": "ok", "waiting_lines": batcher.waiting_lines, "requests": stats.requests,
            "batches": stats.batches, "refused": stats.refused}


@router.get("/", include_in_schema=False)
async def page(request: Request) -> Response:
    if request.app.state.service is None:  # a captioning server
        return RedirectResponse("/caption")
    return FileResponse(STATIC / "index.html")


@router.get("/caption", include_in_schema=False)
async def caption_page() -> FileResponse:
    return FileResponse(STATIC / "caption.html")


def create_app(service: Service | None, *, captions: CaptionService | None = None,
               batcher: Batcher | None = None) -> FastAPI:
    """The application for `service` (translation) and `captions` (captioning); the translation
    batcher runs while the application does."""
    if service is not None and batcher is None:
        limits = service.limits
        batcher = Batcher(service.run, max_wait=limits.batch_wait_ms / 1000, max_tokens=limits.batch_tokens,
                          max_queue_lines=limits.max_queue_lines, cost=line_cost)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if batcher is not None:
            batcher.start()
        yield
        if batcher is not None:
            await batcher.stop()  # SIGTERM: what was accepted is answered first

    app = FastAPI(title="nmt-serve", description="Recurrent neural machine translation", lifespan=lifespan)
    app.state.batcher, app.state.service, app.state.captions = batcher, service, captions
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestError, _refused)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
