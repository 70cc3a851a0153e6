"""The web app in a real browser: `actionrec serve` as a subprocess on a free port, headless
Chromium (Debian's chromium + chromium-driver, `make browser`) driven by Selenium.

The bundle is built into a temporary folder by the package stage's library code from the trained
models of the ``trained_demo`` copy. Screenshot: web_result.png in the screenshot folder
(reports/screenshots/ with `make screenshots`).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.pipeline.conftest import REPO

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser`)",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# ---------------------------------------------------------------- bundle, server, browser


@pytest.fixture(scope="module")
def root(trained_demo: Path) -> Path:
    """A copy of the repository with trained, evaluated models and demo videos."""
    return trained_demo


@pytest.fixture(scope="module")
def bundle(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models/package built into a temporary folder by the package stage's library code (no MLflow registry)."""
    from actionrec.config.params import load_params
    from actionrec.packaging.bundle import build_bundle
    from actionrec.packaging.selection import read_metrics, select

    dest = tmp_path_factory.mktemp("bundle") / "package"
    dest.mkdir()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        params = load_params().package
        build_bundle(dest, select(read_metrics(), params), params)
    finally:
        os.chdir(cwd)
    return dest


@pytest.fixture(scope="module")
def clip(root: Path) -> Path:
    clips = sorted((root / "data/raw/videos").glob("*/*.avi"))
    if not clips:
        pytest.skip("no demo videos (run `make data`)")
    return clips[0]


@pytest.fixture(scope="module")
def mixed_clip(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 5 s of video: one demo clip of each of three classes, back to back."""
    from actionrec.media.video import iter_frames, video_fps, write_video

    firsts = [sorted(d.glob("*.avi"))[0] for d in sorted((root / "data/raw/videos").iterdir()) if d.is_dir()][:3]
    if len(firsts) < 3:
        pytest.skip("needs demo videos of three classes")
    frames = (rgb for path in firsts for _, rgb in iter_frames(path))
    return write_video(tmp_path_factory.mktemp("mixed") / "three_actions.mp4", frames, video_fps(firsts[0]))


def _full_page_png(driver: object, path: Path) -> None:
    """A screenshot of the whole page, beyond the window (Chrome DevTools)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


class Server:
    def __init__(self, url: str, tmpdir: Path, proc: subprocess.Popen) -> None:
        self.url, self.tmpdir, self.proc = url, tmpdir, proc


@pytest.fixture(scope="module")
def start_server(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """``start_server(max_upload_mb)``: `actionrec serve --port 0` with its own TMPDIR."""
    procs: list[subprocess.Popen] = []

    def start(max_upload_mb: float = 50) -> Server:
        tmpdir = tmp_path_factory.mktemp("server-tmp")
        log = (tmpdir.parent / f"{tmpdir.name}.log").open("w")
        env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actionrec",
                "serve",
                "--bundle",
                str(bundle),
                "--port",
                "0",
                "--max-upload-mb",
                str(max_upload_mb),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=REPO,
        )
        procs.append(proc)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if sel.select(timeout=1):
                line = proc.stdout.readline()
                if "http://127.0.0.1:" in line:
                    url = line.split(" on ", 1)[1].split()[0]
                    return Server(url, tmpdir, proc)
        raise AssertionError(f"actionrec serve did not start: {Path(log.name).read_text()[-3000:]}")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Server]) -> Server:
    return start_server()


@pytest.fixture(scope="module")
def small_server(start_server: Callable[..., Server]) -> Server:
    """Uploads limited to 0.05 MB (the demo clips are larger)."""
    return start_server(0.05)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1100,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def file_server(clip: Path) -> Iterator[str]:
    """The demo videos over http on 127.0.0.1 (for the URL form field)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    class QuietServer(http.server.ThreadingHTTPServer):
        def handle_error(self, *args: object) -> None:  # the 413 test hangs up mid-download
            pass

    handler = functools.partial(Quiet, directory=str(clip.parent.parent))
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def _submit(driver: object, server: Server, *, path: Path | None = None, url: str | None = None) -> str:
    """Fill the form, submit it, wait for a result or an error; returns which one."""
    driver.get(server.url)
    if path is not None:
        driver.find_element(By.ID, "video").send_keys(str(path))
    if url is not None:
        driver.find_element(By.ID, "url").send_keys(url)
    driver.find_element(By.ID, "submit").click()
    found = WebDriverWait(driver, 180).until(
        EC.any_of(EC.presence_of_element_located((By.ID, "result")), EC.presence_of_element_located((By.ID, "error")))
    )
    return found.get_attribute("id")


def _no_temp_files(server: Server) -> None:
    left = list(server.tmpdir.iterdir())
    assert not left, f"temporary files left behind: {left}"


# ---------------------------------------------------------------- tests


def test_upload_shows_label_probabilities_and_timeline(
    browser: object, server: Server, bundle: Path, mixed_clip: Path, screenshot_dir: Path
) -> None:
    labels = json.loads((bundle / "manifest.json").read_text())["labels"]
    start = time.perf_counter()
    assert _submit(browser, server, path=mixed_clip) == "result"
    seconds = time.perf_counter() - start
    label = browser.find_element(By.ID, "label").text
    assert label in labels + ["uncertain"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#probabilities .bar")
    assert len(rows) == len(labels)
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#probabilities > span:not(.num)")]
    assert names == labels
    percents = [float(e.text.rstrip("%")) for e in browser.find_elements(By.CSS_SELECTOR, "#probabilities > span.num")]
    assert abs(sum(percents) - 100) < 1.0 and max(percents) > 0
    cells = browser.find_elements(By.CSS_SELECTOR, "#timeline .cell")
    assert len(cells) > 50, "one cell per prediction over ~5 s of video"
    assert all(c.get_attribute("title") for c in cells)
    segments = browser.find_elements(By.CSS_SELECTOR, "#segments tr")[1:]
    assert len(segments) >= 2, "three actions back to back: the timeline must change label"
    assert mixed_clip.name in browser.find_element(By.ID, "result").text
    _full_page_png(browser, screenshot_dir / "web_result.png")
    print(f"~5 s upload ({mixed_clip.name}) answered in {seconds:.1f} s (page load to result)")
    _no_temp_files(server)


def test_url_of_a_video_file(browser: object, server: Server, file_server: str, clip: Path) -> None:
    url = f"{file_server}/{clip.parent.name}/{clip.name}"
    assert _submit(browser, server, url=url) == "result"
    assert browser.find_element(By.ID, "label").text
    _no_temp_files(server)


def test_text_file_renamed_to_mp4_is_refused(browser: object, server: Server, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video, just text\n" * 100)
    assert _submit(browser, server, path=fake) == "error"
    message = browser.find_element(By.ID, "error").text
    assert "notes.mp4 is not a readable video" in message
    assert "Traceback" not in browser.page_source
    with fake.open("rb") as fh:
        assert requests.post(server.url + "predict", files={"video": fh}, timeout=60).status_code == 400
    _no_temp_files(server)


def test_non_video_suffix_is_refused(browser: object, server: Server, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert _submit(browser, server, path=text) == "error"
    assert "notes.txt is not a video file" in browser.find_element(By.ID, "error").text
    _no_temp_files(server)


def test_corrupt_video_is_refused(browser: object, server: Server, clip: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.avi"
    data = bytearray(clip.read_bytes())
    broken.write_bytes(bytes(data[:64]) + os.urandom(4096))  # a header, then garbage
    assert _submit(browser, server, path=broken) == "error"
    message = browser.find_element(By.ID, "error").text
    assert "broken.avi" in message and ("not a readable video" in message or "No person" in message)
    _no_temp_files(server)


def test_oversized_upload_and_url_get_a_clear_413(
    browser: object, small_server: Server, clip: Path, file_server: str
) -> None:
    assert clip.stat().st_size > 0.05 * 2**20
    assert _submit(browser, small_server, path=clip) == "error"
    assert "larger than the limit of 0.05 MB" in browser.find_element(By.ID, "error").text
    with clip.open("rb") as fh:
        reply = requests.post(small_server.url + "api/predict", files={"video": fh}, timeout=60)
    assert reply.status_code == 413 and "0.05 MB" in reply.json()["error"]
    assert _submit(browser, small_server, url=f"{file_server}/{clip.parent.name}/{clip.name}") == "error"
    assert "larger than the limit" in browser.find_element(By.ID, "error").text
    _no_temp_files(small_server)


def test_server_listens_on_localhost_only(server: Server) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    health = requests.get(server.url + "healthz", timeout=10).json()
    assert health["status"] == "ok" and health["models"]
