"""nmt-serve's API through the framework's test client: answers, every bad input, concurrency, batching."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from nmt.experiment import load_model
from nmt.serve.app import create_app
from nmt.serve.service import Limits, Service

PINNED = Path(__file__).resolve().parent / "data" / "pinned"


@pytest.fixture(scope="module")
def service():
    models = {"ding": load_model(PINNED / "rnnsearch"), "reversed": load_model(PINNED / "seq2seq_reversed")}
    return Service(models, limits=Limits(max_lines=8, max_chars=200, max_beam=8, batch_wait_ms=30))


@pytest.fixture()
def client(service):
    with TestClient(create_app(service)) as test_client:
        yield test_client


def test_lines_in_equal_lines_out_with_scores_nbest_and_alignments(client):
    lines = ["haus katze .", "", "baum   hund\t.", "tür ."]
    response = client.post("/v1/translate", json={"text": lines, "beam": 4, "nbest": 3, "alignments": True})
    assert response.status_code == 200, response.text
    results = response.json()["translations"]
    assert len(results) == 4 and results[1]["text"] == ""
    for result in (results[0], results[2], results[3]):
        assert len(result["nbest"]) == 3 and result["nbest"][0]["text"] == result["text"]
        assert result["nbest"][0]["score"] >= result["nbest"][1]["score"]
        alignment = result["alignment"]
        assert len(alignment["weights"]) == len(alignment["target"])
        assert all(len(row) == len(alignment["source"]) and abs(sum(row) - 1) < 1e-3 for row in alignment["weights"])
    single = client.post("/v1/translate", json={"text": "haus katze .", "model": "reversed"}).json()
    assert single["model"] == "reversed" and len(single["translations"]) == 1


def test_the_api_and_nmt_translate_json_give_a_translation_in_one_shape(client):
    lines = ["haus katze .", ""]
    api = client.post("/v1/translate", json={"text": lines, "beam": 3, "nbest": 2, "alignments": True}).json()
    command = [sys.executable, "-m", "nmt.cli.translate", "--model", str(PINNED / "rnnsearch"), "--beam", "3",
               "--nbest", "2", "--json", "--alignments"]
    cli = subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert [json.loads(line) for line in cli.stdout.splitlines()] == api["translations"]


def test_models_health_docs_and_the_page(client):
    models = client.get("/v1/models").json()
    assert [m["name"] for m in models["models"]] == ["ding", "reversed"] and models["default"] == "ding"
    assert client.get("/health").json()["status"] == "ok"
    assert "/v1/translate" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "<script src=\"/static/app.js\">" in page.text
    assert "cdn" not in page.text.lower() and "http" not in client.get("/static/app.js").text.replace("http://www.w3.org", "")


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not valid JSON"),
    (b'{"text": "\xff\xfe caf\xe9"}', 400, "could not be read as JSON in UTF-8"),
    (b'{"text": 5}', 422, "text: expected a string or a list of strings, got int"),
    (b'{"text": ["ok", 7]}', 422, "text: expected a string or a list of strings"),
    (b'{"text": []}', 422, "the list is empty"),
    (b'{"text": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}', 413, "9 lines; a request may hold 8"),
    (b'{"text": "' + b"x" * 201 + b'"}', 413, "line 1 has 201 characters; the limit is 200"),
    (b'{"text": "a", "model": "/etc/passwd"}', 404, "unknown model '/etc/passwd'; this server has ding, reversed"),
    (b'{"text": "a", "beam": 0}', 422, "beam: 0 is out of range: expected 1 to 8"),
    (b'{"text": "a", "beam": 9}', 422, "beam: 9 is out of range"),
    (b'{"text": "a", "beam": 2, "nbest": 3}', 422, "nbest: 3 is out of range: expected 1 to the beam size (2)"),
    (b'{"text": "a", "beam": "3"}', 422, "beam: Input should be a valid integer"),
    (b'{"text": "a", "alignments": "yes"}', 422, "alignments: Input should be a valid boolean"),
    (b'{"txt": "a"}', 422, "text: Field required; txt: Extra inputs are not permitted"),
    (b'["a"]', 422, "the request body must be a JSON object"),
])
def test_a_bad_request_is_a_4xx_json_error_that_says_what_was_wrong(client, body, status, message):
    response = client.post("/v1/translate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert client.post("/v1/translate", json={"text": "haus ."}).status_code == 200  # still serving


def test_a_full_queue_is_503_with_retry_after(service):
    tight = Service(service.models, limits=Limits(max_queue_lines=2))
    with TestClient(create_app(tight)) as client:
        response = client.post("/v1/translate", json={"text": ["a", "b", "c"]})
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "the queue holds 2" in response.json()["error"]


def test_thirty_two_clients_at_once_are_all_answered_in_order_and_batched_together(service):
    app = create_app(service)
    words = ["haus", "katze", "hund", "baum", "tür", "garten", "sonne", "mond"]
    requests = [[f"{words[i % 8]} {words[(i + j) % 8]} ." for j in range(1 + i % 3)] for i in range(32)]

    async def scenario():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                alone = [(await client.post("/v1/translate", json={"text": lines, "beam": 2})).json()
                         for lines in requests[:6]]
                before = app.state.batcher.stats.batches
                together = await asyncio.gather(*(client.post("/v1/translate", json={"text": lines, "beam": 2})
                                                  for lines in requests))
                return alone, [r.json() for r in together], app.state.batcher.stats.batches - before

    alone, together, batches = asyncio.run(scenario())
    assert all(len(r["translations"]) == len(lines) for r, lines in zip(together, requests))
    for single, merged in zip(alone, together):  # the same answers as one request at a time, in order
        assert [t["text"] for t in single["translations"]] == [t["text"] for t in merged["translations"]]
    assert batches < 32 / 4, f"{batches} batches for 32 concurrent requests"


def test_analyze_gives_the_page_attention_and_cells(client):
    data = client.post("/v1/analyze", json={"text": "haus katze .", "nbest": 2}).json()
    assert data["source"][-1] == "</s>" and len(data["hypotheses"]) == 2
    hyp = data["hypotheses"][0]
    assert len(hyp["attention"]) == len(hyp["pieces"]) and len(hyp["attention"][0]) == len(data["source"])
    assert [layer["name"] for layer in data["encoder"]] == ["encoder layer 0 forward", "encoder layer 0 backward"]
    assert len(data["encoder"][0]["cell"]) == len(data["source"])
    assert len(hyp["decoder"][0]["hidden"]) == len(hyp["pieces"])
    empty = client.post("/v1/analyze", json={"text": "   "}).json()
    assert empty["hypotheses"] == [] and empty["source"] == []


@pytest.mark.parametrize("call, status, message", [
    (lambda s: s.options("nope", None, 1), 404, "model: unknown model 'nope'; this server has ding, reversed"),
    (lambda s: s.options(None, 9, 1), 422, "beam: 9 is out of range: expected 1 to 8"),
    (lambda s: s.options("reversed", 2, 3), 422, "nbest: 3 is out of range: expected 1 to the beam size (2)"),
    (lambda s: s.check_lines([]), 422, "text: the list is empty"),
    (lambda s: s.check_lines(["a"] * 9), 413, "text: 9 lines; a request may hold 8"),
    (lambda s: s.check_lines(["a", "b" * 201]), 413, "text: line 2 has 201 characters; the limit is 200"),
])
def test_the_service_checks_a_request_without_http(service, call, status, message):
    from nmt.serve.service import RequestError

    with pytest.raises(RequestError) as refused:
        call(service)
    assert refused.value.status == status and message in refused.value.message


def test_the_service_fills_in_a_requests_defaults(service):
    assert service.options(None, None, 1).model == "ding"
    assert service.options("ding", None, 1).beam == service.models["ding"].cfg.decode.beam_size
    assert service.options("ding", 2, 7, analyze=True).nbest == 2  # the page asks for a few, whatever the beam


def test_prefixes_are_continued_and_given_translations_scored_as_nmt_translate_does(client, tmp_path):
    lines = ["haus katze .", "baum ."]
    translated = client.post("/v1/translate", json={"text": lines, "prefix": ["the house", ""], "beam": 3}).json()
    first, second = translated["translations"]
    assert first["text"].startswith("the house")
    assert second == client.post("/v1/translate", json={"text": ["baum ."], "beam": 3}).json()["translations"][0]
    page = client.post("/v1/analyze", json={"text": lines[0], "prefix": "the house"}).json()
    assert all(h["text"].startswith("the house") for h in page["hypotheses"])
    scored = client.post("/v1/score", json={"text": lines, "target": [first["text"], "tree ."], "alignments": True})
    assert scored.status_code == 200, scored.text
    (tmp_path / "in.de").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "in.en").write_text(f"{first['text']}\ntree .\n", encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(PINNED / "rnnsearch"), "-i",
                          str(tmp_path / "in.de"), "--score-target", str(tmp_path / "in.en"), "--alignments"],
                         capture_output=True, text=True, timeout=120)
    assert [json.loads(line) for line in cli.stdout.splitlines()] == scored.json()["scores"]
    for body, field in (({"text": lines, "prefix": ["one"]}, "prefix: 1 given for 2 lines"),
                        ({"text": lines, "target": "one"}, "target: 1 given for 2 lines")):
        refused = client.post("/v1/score" if "target" in body else "/v1/translate", json=body)
        assert refused.status_code == 422 and field in refused.json()["error"]


def test_required_words_through_the_api(client):
    lines = ["haus katze .", "baum ."]
    result = client.post("/v1/translate", json={"text": lines, "constraints": [["tree"], []], "beam": 3}).json()
    first, second = result["translations"]
    assert "tree" in first["text"] and first["constraints_met"] is True
    assert second["text"] == client.post("/v1/translate", json={"text": ["baum ."], "beam": 3}).json()["translations"][0]["text"]
    both = client.post("/v1/translate", json={"text": lines, "constraints": [["tree"], []], "prefix": ["the", ""]})
    assert both.status_code == 422 and "do not combine with a prefix" in both.json()["error"]
    tagged = client.post("/v1/translate", json={"text": ["<b>haus</b> katze ."], "tags": True}).json()
    assert tagged["translations"][0]["text"].count("<b>") == 1 and "</b>" in tagged["translations"][0]["text"]
    counted = client.post("/v1/translate", json={"text": lines, "constraints": [["tree"]]})
    assert counted.status_code == 422 and "constraints: 1 given for 2 lines" in counted.json()["error"]
    kept = client.post("/v1/translate", json={"text": ["haus garden .", "baum ."], "keep": r"gard\w+", "beam": 3}).json()
    assert "garden" in kept["translations"][0]["text"] and kept["translations"][1]["text"] == second["text"]
    bad = client.post("/v1/translate", json={"text": lines, "keep": "("})
    assert bad.status_code == 422 and "keep: '(' is not a regular expression" in bad.json()["error"]
