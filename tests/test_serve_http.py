"""nmt-serve as a user starts it: a real server, a real browser on its page, a graceful SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

PINNED = Path(__file__).resolve().parent / "data" / "pinned"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "nmt.cli.serve", "--model", f"ding={PINNED / 'rnnsearch'}",
                                "--port", str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            return process, url
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read())
            time.sleep(0.2)
    process.kill()
    raise AssertionError("nmt-serve did not start")


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server():
    process, url = start_server()
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def test_it_binds_the_loopback_address_by_default(server):
    assert "127.0.0.1" in server
    listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout if shutil.which("ss") else ""
    port = server.rsplit(":", 1)[1]
    assert f"0.0.0.0:{port}" not in listening and f"*:{port}" not in listening


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
def test_the_page_translates_as_you_type_and_draws_the_attention(server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1300"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        browser.get(server + "/")
        browser.find_element(By.ID, "source").send_keys("haus katze hund .")
        wait = WebDriverWait(browser, 30)
        wait.until(lambda b: b.find_element(By.ID, "translation").text.strip())
        cells = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#attention rect.weight"))
        expected = post(server + "/v1/analyze", {"text": "haus katze hund .", "beam": 5, "nbest": 5})
        assert browser.find_element(By.ID, "translation").text == expected["hypotheses"][0]["text"]
        assert len(cells) == len(expected["source"]) * len(expected["hypotheses"][0]["pieces"])
        assert len(browser.find_elements(By.CSS_SELECTOR, "#nbest li")) == len(expected["hypotheses"])
        pieces = browser.find_elements(By.CSS_SELECTOR, "#tokens span.piece")
        assert len(pieces) == len(expected["source"])
        pieces[0].click()
        assert len(browser.find_elements(By.CSS_SELECTOR, "#top-units tr")) == 10
        browser.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        browser.quit()


def test_sigterm_answers_the_requests_in_flight_then_exits():
    process, url = start_server("--batch-wait-ms", "300")
    answers = []
    worker = threading.Thread(target=lambda: answers.append(post(url + "/v1/translate",
                                                                 {"text": ["haus katze ."] * 8, "beam": 8})))
    worker.start()
    time.sleep(0.1)  # the request is in the batcher's window
    process.send_signal(signal.SIGTERM)
    worker.join(timeout=60)
    assert process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert len(answers) == 1 and len(answers[0]["translations"]) == 8
    if os.path.exists(f"/proc/{process.pid}"):
        assert "zombie" in open(f"/proc/{process.pid}/status").read().lower()
