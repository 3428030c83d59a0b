"""nmt-serve with a captioning model: the image API (answers and refusals) through the framework's
test client, and the captioning page in a real browser."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient
from test_serve_http import CHROMEDRIVER, CHROMIUM, free_port, post

from nmt.serve.app import create_app
from nmt.serve.captions import CaptionService
from nmt.tasks import load_trained


@pytest.fixture(scope="module")
def client(toy_captioner):
    service = CaptionService({"discs": load_trained(toy_captioner, task="captioning")}, max_beam=4)
    with TestClient(create_app(None, captions=service)) as test_client:
        yield test_client


def image_bytes(toy_captioner, index: int) -> bytes:
    return (toy_captioner.parent / "images" / f"dev{index}.png").read_bytes()


def test_an_image_gets_its_nbest_captions_with_an_attention_grid_per_piece(client, toy_captioner):
    answer = client.post("/v1/caption", json={"image": base64.b64encode(image_bytes(toy_captioner, 0)).decode(),
                                              "beam": 3, "nbest": 2})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    expected = subprocess.run([sys.executable, "-m", "nmt.cli.caption", "--model", str(toy_captioner), "--beam", "3",
                               str(toy_captioner.parent / "images" / "dev0.png")], capture_output=True, text=True)
    assert result["captions"][0]["text"] == expected.stdout.strip() and len(result["captions"]) == 2
    assert result["grid"] == [4, 4]
    for hypothesis in result["captions"]:
        attention = hypothesis["attention"]
        assert len(attention) == len(hypothesis["pieces"]) and hypothesis["pieces"][-1] == "</s>"
        for step in attention:  # an h x w grid of weights that sum to one
            assert len(step) == 4 and all(len(row) == 4 for row in step)
            assert abs(sum(map(sum, step)) - 1.0) < 1e-3


@pytest.mark.parametrize("body, status, message", [
    ({"image": "%%%"}, 422, "image: not base64"),
    ({"image": base64.b64encode(b"not an image").decode()}, 422, "image: not a readable image"),
    ({"image": ""}, 422, "image: empty"),
    ({"image": "aGk=", "model": "nope"}, 404, "unknown captioning model 'nope'; this server has discs"),
    ({"image": "aGk=", "beam": 9}, 422, "beam: 9 is out of range: expected 1 to 4"),
    ({"text": "a"}, 422, "image: Field required"),
])
def test_bad_caption_requests_are_one_line_and_the_server_goes_on(client, toy_captioner, body, status, message):
    answer = client.post("/v1/caption", json=body)
    assert answer.status_code == status and message in answer.json()["error"], answer.text
    good = client.post("/v1/caption", json={"image": base64.b64encode(image_bytes(toy_captioner, 1)).decode()})
    assert good.status_code == 200


def test_a_captioning_server_offers_its_test_images_and_its_own_page(client):
    models = client.get("/v1/models").json()
    assert models["models"] == [] and [m["name"] for m in models["captioning"]] == ["discs"]
    count = models["captioning"][0]["examples"]
    assert count == 24  # no test set: the dev images
    assert client.get("/v1/example", params={"index": 0}).content[:4] == b"\x89PNG"
    assert "discs has 24" in client.get("/v1/example", params={"index": 24}).json()["error"]
    assert client.get("/", follow_redirects=False).headers["location"] == "/caption"
    refused = client.post("/v1/translate", json={"text": "a"})
    assert refused.status_code == 404 and "no translation model" in refused.json()["error"]


def test_the_caption_page_captions_a_picked_test_image_and_draws_each_pieces_attention(toy_captioner, tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so the page must be tested, not skipped")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "nmt.cli.serve", "--model", f"discs={toy_captioner}",
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,900"):
        options.add_argument(argument)
    browser = None
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, server.stderr.read() if server.poll() else "slow"
                time.sleep(0.2)
        browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        browser.get(url + "/")  # redirected to the captioning page
        wait = WebDriverWait(browser, 30)
        examples = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#examples img"))
        assert len(examples) == 24
        examples[3].click()
        wait.until(lambda b: b.find_element(By.ID, "caption").text.strip())
        looks = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#looks canvas"))
        image = base64.b64encode(urllib.request.urlopen(url + "/v1/example?index=3").read()).decode()
        expected = post(url + "/v1/caption", {"image": image, "beam": 2, "nbest": 5})
        assert browser.find_element(By.ID, "caption").text == expected["captions"][0]["text"]
        assert len(looks) == len(expected["captions"][0]["pieces"])
        assert len(browser.find_elements(By.CSS_SELECTOR, "#nbest li")) == len(expected["captions"])
        browser.save_screenshot(str(tmp_path / "caption.png"))
        assert (tmp_path / "caption.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        if browser is not None:
            browser.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
