"""The HTTP face of the service (FastAPI): the translation API, the analysis the page draws, the page.

    POST /v1/translate   {"text": "..." | ["...", ...], "model"?, "beam"?, "nbest"?, "alignments"?}
    POST /v1/analyze     {"text": "...", "model"?, "beam"?, "nbest"?}: n-best, attention, cell activations
    GET  /v1/models, GET /health, GET /docs (OpenAPI), GET / (the page)

Every mistake in a request is a 4xx answer {"error": "<what was wrong>"}; the server goes on.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from nmt.serve.batcher import Batcher, QueueFull
from nmt.serve.service import Options, Service

STATIC = Path(__file__).parent / "static"


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Union[StrictStr, list[StrictStr]]  # one line, or a list of lines
    model: StrictStr | None = None  # a name from GET /v1/models; default the first
    beam: StrictInt | None = None  # default the model's decode.beam_size; 1 is greedy
    nbest: StrictInt = 1
    alignments: StrictBool = False


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: StrictStr
    model: StrictStr | None = None
    beam: StrictInt | None = None
    nbest: StrictInt = 3


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


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


def create_app(service: Service, *, batcher: Batcher | None = None) -> FastAPI:
    limits = service.limits
    batcher = batcher or Batcher(service.run, max_wait=limits.batch_wait_ms / 1000, max_tokens=limits.batch_tokens,
                                 max_queue_lines=limits.max_queue_lines)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()  # SIGTERM: what was accepted is answered first

    app = FastAPI(title="nmt-serve", description="Recurrent neural machine translation", lifespan=lifespan)
    app.state.batcher, app.state.service = batcher, service

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        errors = error.errors()
        status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
        return JSONResponse({"error": _describe(errors)}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        message = str(error.detail)
        if "error parsing the body" in message:
            message = "the request body could not be read as JSON in UTF-8"
        return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError):
        headers = {"Retry-After": "1"} if error.status == 503 else None
        return JSONResponse({"error": error.message}, status_code=error.status, headers=headers)

    def options(model: str | None, beam: int | None, nbest: int, *, analyze: bool = False, **flags) -> Options:
        name = model if model is not None else service.default_model
        if name not in service.models:
            raise RequestError(404, f"model: unknown model {name!r}; this server has {', '.join(service.models)}")
        beam = beam if beam is not None else service.models[name].cfg.decode.beam_size
        if not 1 <= beam <= limits.max_beam:
            raise RequestError(422, f"beam: {beam} is out of range: expected 1 to {limits.max_beam}")
        if analyze:  # the page asks for a few hypotheses whatever the beam
            nbest = max(1, min(nbest, beam))
        if not 1 <= nbest <= beam:
            raise RequestError(422, f"nbest: {nbest} is out of range: expected 1 to the beam size ({beam})")
        return Options(name, beam, nbest, analyze=analyze, **flags)

    def check_lines(lines: list[str]) -> None:
        if not lines:
            raise RequestError(422, "text: the list is empty; give at least one line")
        if len(lines) > limits.max_lines:
            raise RequestError(413, f"text: {len(lines)} lines; a request may hold {limits.max_lines}")
        for number, line in enumerate(lines, 1):
            if len(line) > limits.max_chars:
                raise RequestError(413, f"text: line {number} has {len(line)} characters; the limit is {limits.max_chars}")

    async def submit(chosen: Options, lines: list[str]) -> list[dict]:
        try:
            return await batcher.submit(chosen, lines)
        except QueueFull as full:
            raise RequestError(503, f"busy: {full}; try again shortly") from None

    @app.post("/v1/translate")
    async def translate(body: TranslateRequest) -> dict:
        """Translate one line or a list of lines; one result per line, in order."""
        lines = [body.text] if isinstance(body.text, str) else body.text
        chosen = options(body.model, body.beam, body.nbest, alignments=body.alignments)
        check_lines(lines)
        results = await submit(chosen, lines)
        return {"model": chosen.model, "translations": results}

    @app.post("/v1/analyze")
    async def analyze(body: AnalyzeRequest) -> dict:
        """One line as the page shows it: n-best with attention, encoder and decoder cell activations."""
        chosen = options(body.model, body.beam, body.nbest, analyze=True)
        check_lines([body.text])
        return (await submit(chosen, [body.text]))[0]

    @app.get("/v1/models")
    async def models() -> dict:
        return {"models": service.describe(), "default": service.default_model}

    @app.get("/health")
    async def health() -> dict:
        stats = batcher.stats
        return {"status": "ok", "waiting_lines": batcher.waiting_lines, "requests": stats.requests,
                "batches": stats.batches, "refused": stats.refused}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
