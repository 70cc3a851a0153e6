"""The MLflow UI on a store the pipeline produced: `mlflow server` on 127.0.0.1 (its own process
group, stopped as a group), headless Chromium on the runs page of the pipeline's experiment; the
runs are listed with their metrics. Screenshot: mlflow_runs.png in the screenshot folder
(reports/screenshots/ with `make screenshots`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import requests

from tests.pipeline import shared_runs
from tests.pipeline.shared_runs import PipelineRun

METRICS = ("test_clip_accuracy", "test_clip_macro_f1", "train_accuracy", "best_val_acc")
BROWSER = shared_runs.have_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(BROWSER is None, reason="needs chromium and chromedriver (`make browser`)"),
]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="session")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_a(tmp_path_factory)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(run_a: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    workdir = tmp_path_factory.mktemp("mlflow-server")  # nothing lands in a repository
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (workdir / "server.log").open("w")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            run_a.store,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (workdir / "server.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (
                "mlflow server did not come up:\n" + (workdir / "server.log").read_text()[-3000:]
            )
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    chromium, chromedriver = BROWSER
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1800,800",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _click(browser: webdriver.Chrome, element: object) -> None:
    """Scroll the element into the middle of its scrolling container (the column list is a
    scrolled popover), then click it as a user would."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    WebDriverWait(browser, 10).until(lambda d: element.is_displayed())
    element.click()


def test_runs_page_lists_the_pipeline_runs_with_metrics(
    run_a: PipelineRun, server: str, browser: webdriver.Chrome, screenshot_dir: Path
) -> None:
    client = mlflow.MlflowClient(tracking_uri=run_a.store)
    exp = client.get_experiment_by_name("actionrec")
    runs = client.search_runs([exp.experiment_id])
    names = {r.info.run_name for r in runs}
    assert {"classical-lr", "lstm", "convlstm"} <= names
    browser.get(f"{server}/#/experiments/{exp.experiment_id}/runs")
    body = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    WebDriverWait(browser, 90).until(lambda d: all(n in body() for n in ("train_classical", "lstm", "convlstm")))
    for close in browser.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        close.click()  # the assistant side panel: more room for the table
    # Metrics are columns the user picks (Columns -> Metrics); children under their parent (expand).
    browser.find_element(By.XPATH, "//button[normalize-space()='Columns']").click()
    for metric in METRICS:
        node = WebDriverWait(browser, 30).until(
            lambda d, metric=metric: d.find_element(
                By.XPATH,
                f"//div[@role='dialog']//div[contains(@class,'tree-treenode')][.//*[normalize-space(text())='{metric}']]",
            )
        )
        if "checkbox-checked" not in node.get_attribute("class"):
            _click(browser, node.find_element(By.XPATH, ".//span[contains(@class,'tree-checkbox')]"))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    parent = browser.find_element(By.XPATH, "//div[@role='row'][.//*[normalize-space(text())='train_classical']]")
    _click(browser, parent.find_element(By.XPATH, ".//button"))
    WebDriverWait(browser, 30).until(
        lambda d: all(n in body() for n in ("classical-lr", "classical-rf", "classical-gb"))
    )
    headers = {h.text for h in browser.find_elements(By.CSS_SELECTOR, "[role=columnheader]")}
    assert set(METRICS) <= headers, headers
    text = body()
    for name in ("classical-rf", "lstm"):
        value = next(r for r in runs if r.info.run_name == name).data.metrics["test_clip_accuracy"]
        assert str(value)[:5] in text, (name, value, text[-2000:])
    screenshot = screenshot_dir / "mlflow_runs.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
