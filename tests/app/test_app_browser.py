"""The web app as a person uses it, in headless Chromium (Debian's ``chromium``, driven by Playwright for Python; no
browser is downloaded): upload a hummed query, hum into the (fake) microphone, upload a corrupt file, look at the
tokens. ``scripts/install.sh`` installs chromium where it can (root with apt); elsewhere these tests skip, saying why.

Set ``WAV2TOK_APP_SCREENSHOT=docs/app.png`` to also refresh the README's screenshot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip install -e .[dev]) drives Chromium")
expect = sync_api.expect
REPO = Path(__file__).resolve().parents[2]
SONGS = 20  # a small index: the whole module runs in about a minute on two busy cores
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = ("Debian's chromium is not installed (scripts/install.sh installs it as root with apt-get: "
                  "apt-get install chromium); the browser tests need a real browser and download none")
        print(f"SKIP: {reason}", file=sys.stderr)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def playwright_api():
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    with sync_playwright() as api:
        yield api, chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hums(tmp_path_factory):
    """One simulated hum (a rendition the released model was trained on: this tests the app, not the model) of the
    first song of the app's Essen index (the same seed orders the songs the same way, and
    each rendition depends only on the seed and its song, so one song is enough), as 8 kHz WAV files:
    ``upload.wav`` and ``mic.wav`` (with short silences, for Chromium's fake microphone)."""
    from wav2tok_hf.audio_utils import load_audio
    from wav2tok_hf.data import prepare_essen

    folder = tmp_path_factory.mktemp("hums")
    rows = prepare_essen(num_songs=(1, 0, 0), queries_per_song=1, seed=0)["train"]
    query = next(row for row in rows if row["kind"] == "query")
    wave, rate = load_audio(query["audio"])
    sf.write(folder / "upload.wav", wave, rate, subtype="PCM_16")
    pad = np.zeros(rate // 2, dtype=np.float32)
    sf.write(folder / "mic.wav", np.concatenate([pad, wave, pad]), rate, subtype="PCM_16")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(np.random.default_rng(0).integers(0, 256, 8000, dtype=np.uint8)))
    return {"song": query["song_id"], "seconds": len(wave) / rate, "folder": folder}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, playwright_api):
    """``python app.py`` on loopback with a fresh cache (so the first-start build of the Essen index runs too)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    cache = tmp_path_factory.mktemp("cache")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py", "--essen-songs", str(SONGS), "--cache-dir", str(cache),
                                    "--port", str(port)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve {url} in 600 s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]  # user errors never become stack traces


@contextlib.contextmanager
def _app_page(playwright_api, app_url, tmp_path, *extra_flags):
    """A page of the running app in a fresh headless Chromium, closed on the way out."""
    api, chromium = playwright_api
    browser = api.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=chromium, headless=True,
                                                     args=CHROMIUM_FLAGS + list(extra_flags),
                                                     viewport={"width": 1280, "height": 1000})
    try:
        page = browser.new_page()
        page.goto(app_url)
        yield page
    finally:
        browser.close()


def _search(page, tmp_path, attempts: int = 30) -> list[str]:
    """Press Search and return the ranked song ids; while a recording is still uploading ("No audio yet"), press
    again. Any other message fails the test with the page's text and a screenshot."""
    for _ in range(attempts):
        page.click("#hum-search")
        page.wait_for_function("""() => document.querySelector('#hum-results tr[data-id]') ||
                                   document.body.innerText.includes('No audio yet') ||
                                   document.body.innerText.includes('The recording') ||
                                   document.body.innerText.includes('Could not read')""", timeout=180_000)
        rows = page.locator("#hum-results tr[data-id]")
        if rows.count():
            return [row.get_attribute("data-id") for row in rows.all()]
        page.screenshot(path=str(tmp_path / "search-message.png"), full_page=True)
        text = page.locator("body").inner_text()
        assert "No audio yet" in text, f"the search showed a message instead of results:\n{text[-1500:]}"
        page.get_by_text("No audio yet", exact=False).first.wait_for(state="detached", timeout=30_000)
        time.sleep(1)
    pytest.fail("the recording never reached the app")


def _screenshot(page, tmp_path, name):
    page.screenshot(path=str(tmp_path / name), full_page=True)
    target = os.environ.get("WAV2TOK_APP_SCREENSHOT")
    if target and name == "upload.png":
        page.screenshot(path=str(REPO / target), full_page=True)


def test_uploaded_hum_finds_its_song(playwright_api, app_url, hums, tmp_path):
    with _app_page(playwright_api, app_url, tmp_path) as page:
        page.locator("#hum-audio input[type=file]").set_input_files(str(hums["folder"] / "upload.wav"))
        ids = _search(page, tmp_path)
        assert len(ids) == 10 and hums["song"] in ids, (hums["song"], ids)
        assert "Best match" in page.locator("#hum-summary").inner_text()
        alignment = page.locator("#hum-alignment")
        assert alignment.locator(".w2t-col").count() > 0 and "match" in alignment.inner_text()
        src = page.locator("#hum-results audio").first.get_attribute("src")
        played = page.request.get(app_url.rstrip("/") + src)
        assert played.ok and played.body()[:4] == b"fLaC", played.status  # each row's play button serves the song
        _screenshot(page, tmp_path, "upload.png")
        print(f"uploaded hum of {hums['song']}: rank {ids.index(hums['song']) + 1} of {SONGS}")


def test_hum_into_the_microphone_finds_its_song(playwright_api, app_url, hums, tmp_path):
    mic = hums["folder"] / "mic.wav"
    with _app_page(playwright_api, app_url, tmp_path, "--use-fake-device-for-media-stream",
                   "--use-fake-ui-for-media-stream", f"--use-file-for-fake-audio-capture={mic}%noloop") as page:
        page.locator("#hum-audio button[aria-label='Record audio']").click()
        page.locator("#hum-audio button.record-button").click()
        time.sleep(hums["seconds"] + 1.2)  # the fake microphone plays mic.wav once, in real time
        page.locator("#hum-audio button.stop-button").click()
        ids = _search(page, tmp_path)
        assert hums["song"] in ids, (hums["song"], ids)
        _screenshot(page, tmp_path, "microphone.png")
        print(f"microphone hum of {hums['song']}: rank {ids.index(hums['song']) + 1} of {SONGS}")


def test_corrupt_upload_gets_a_clear_message(playwright_api, app_url, hums, tmp_path):
    with _app_page(playwright_api, app_url, tmp_path) as page:
        page.locator("#hum-audio input[type=file]").set_input_files(str(hums["folder"] / "corrupt.wav"))
        page.click("#hum-search")
        message = page.get_by_text("Could not read this file as audio", exact=False).first
        expect(message).to_contain_text("Accepted: WAV, FLAC or OGG", timeout=60_000)
        assert "Traceback" not in page.locator("body").inner_text()
        _screenshot(page, tmp_path, "corrupt.png")


def test_token_view_and_word_search_help(playwright_api, app_url, hums, tmp_path):
    with _app_page(playwright_api, app_url, tmp_path) as page:
        page.get_by_role("tab", name="Find where it was said").click()
        expect(page.locator("#word-help")).to_contain_text("--speech-folder")  # no speech index: how to make one
        page.get_by_role("tab", name="See the tokens").click()
        page.locator("#tokens-audio input[type=file]").set_input_files(str(hums["folder"] / "upload.wav"))
        page.click("#tokens-show")
        page.locator("#tokens-strings .w2t-tok").first.wait_for(timeout=120_000)
        assert page.locator("#tokens-strings .w2t-tok").count() > 10
        assert page.locator("#tokens-plot img, #tokens-plot canvas").count() >= 1  # the matplotlib figure
        _screenshot(page, tmp_path, "tokens.png")
