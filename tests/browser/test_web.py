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

import numpy as np
import pytest
import requests

from tests.browser.conftest import BROWSER_MARKS, CHROMEDRIVER, CHROMIUM
from tests.pipeline.conftest import REPO

pytestmark = BROWSER_MARKS
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
    """``start_server(max_upload_mb, *options)``: `actionrec serve --port 0` with its own TMPDIR."""
    procs: list[subprocess.Popen] = []

    def start(max_upload_mb: float = 50, *options: str) -> Server:
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
                *options,
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
    """Fetches the local test servers' URLs (--allow-private-urls), within 3 s each."""
    return start_server(50, "--allow-private-urls", "--url-deadline-s", "3")


@pytest.fixture(scope="module")
def small_server(start_server: Callable[..., Server]) -> Server:
    """Uploads limited to 0.05 MB (the demo clips are larger); private URLs refused (the default)."""
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
    _no_temp_files(small_server)  # the 413 of a URL: tests/unit/test_web_fetch.py


def test_private_urls_are_refused_by_default(
    browser: object, small_server: Server, file_server: str, clip: Path
) -> None:
    assert _submit(browser, small_server, url=f"{file_server}/{clip.parent.name}/{clip.name}") == "error"
    message = browser.find_element(By.ID, "error").text
    assert "127.0.0.1, a loopback address" in message and "--allow-private-urls" in message
    reply = requests.post(small_server.url + "api/predict", data={"url": "http://169.254.169.254/a.mp4"}, timeout=30)
    assert reply.status_code == 403 and "link-local" in reply.json()["error"]
    _no_temp_files(small_server)


def test_server_listens_on_localhost_only(server: Server) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    health = requests.get(server.url + "healthz", timeout=10).json()
    assert health["status"] == "ok" and health["models"]


def _models(bundle: Path) -> dict[str, dict]:
    """kind -> the model manifest, for every model the web app serves (frame, sequence)."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    models = manifest["models"].items()
    return {kind: json.loads((bundle / rel).read_text()) for kind, rel in models if kind in ("frame", "sequence")}


def _post(server: Server, video: Path, model: str) -> requests.Response:
    with video.open("rb") as fh:
        return requests.post(server.url + "api/predict", files={"video": fh}, data={"model": model}, timeout=180)


def test_a_clip_without_a_person_gets_422_from_every_model(
    server: Server, bundle: Path, clip: Path, tmp_path: Path
) -> None:
    from actionrec.media.video import video_fps, write_video

    models = _models(bundle)
    n = max(int(m.get("window") or 1) for m in models.values()) + 10
    empty = write_video(
        tmp_path / "empty_room.mp4", (np.full((240, 320, 3), 90 + i, np.uint8) for i in range(n)), video_fps(clip)
    )
    for kind in models:
        reply = _post(server, empty, kind)
        assert reply.status_code == 422, (kind, reply.text)
        assert (
            reply.json()["error"]
            == f"No person was detected in empty_room.mp4 ({n} frames), so there is no prediction."
        )
    _no_temp_files(server)


def test_a_clip_shorter_than_the_window_gets_422(server: Server, bundle: Path, clip: Path, tmp_path: Path) -> None:
    from actionrec.media.video import iter_frames, video_fps, write_video

    windows = {kind: int(m.get("window") or 1) for kind, m in _models(bundle).items()}
    if windows.get("sequence", 1) < 2:
        pytest.skip("the bundle has no sequence model")
    short = windows["sequence"] - 1
    fps = video_fps(clip)
    path = write_video(tmp_path / "truncated.mp4", (rgb for _, rgb in iter_frames(clip, max_frames=short)), fps)
    reply = _post(server, path, "sequence")
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"].startswith(
        f"truncated.mp4 is too short for the sequence model: {short} decodable frames, and it needs a window of "
        f"{windows['sequence']} ({windows['sequence'] / fps:.1f} s"
    )
    if "frame" in windows:
        reply = _post(server, path, "frame")
        assert reply.status_code == 200 and reply.json()["n_predictions"] == short
    _no_temp_files(server)


def test_a_trickling_url_is_cut_at_the_deadline(server: Server) -> None:
    """The server is started with --url-deadline-s 3; this one sends a byte every 0.5 s, forever."""

    class Trickle(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            try:
                for _ in range(240):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        url = f"http://127.0.0.1:{httpd.server_port}/slow.mp4"
        reply = requests.post(server.url + "api/predict", data={"url": url}, timeout=60)
        took = time.monotonic() - start
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert reply.status_code == 504, reply.text
    assert "within the 3 s deadline" in reply.json()["error"]
    assert took < 6, f"answered after {took:.1f} s"
    _no_temp_files(server)


def test_parallel_requests_each_get_a_worker(server: Server, clip: Path) -> None:
    health = requests.get(server.url + "healthz", timeout=10).json()
    assert health["workers"] == 2 and health["free"] == 2 and health["waiting"] == 0
    results: list[dict] = []

    def one() -> None:
        with clip.open("rb") as fh:
            results.append(requests.post(server.url + "api/predict", files={"video": fh}, timeout=180).json())

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["queued_s"] < 0.5 for r in results] == [True, True], results
