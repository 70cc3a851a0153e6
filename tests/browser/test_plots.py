"""`dvc plots show` / `dvc plots diff` pages offline: headless Chromium with every http(s) request
blocked and host names unresolvable opens the page DVC wrote (from vendor/vega/plots_template.html,
vega inlined) and must see every vega chart drawn and every image plot (confusion matrices,
learning curves) loaded. Screenshot: dvc_plots.png in the screenshot folder."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import BROWSER_MARKS, CHROMEDRIVER, CHROMIUM

pytestmark = BROWSER_MARKS
webdriver = pytest.importorskip("selenium.webdriver")

# per chart: [drawn (a canvas or svg of non-zero size with coloured pixels), its width, height]
CHARTS_JS = """
return Array.from(document.querySelectorAll('canvas.marks, svg.marks')).map(el => {
  const r = el.getBoundingClientRect();
  let inked = el.tagName.toLowerCase() === 'svg' ? el.querySelectorAll('path, rect, line').length > 0 : false;
  if (!inked) {
    const d = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
    for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { inked = true; break; } }
  }
  return [inked, r.width, r.height];
});
"""
IMAGES_JS = "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.getAttribute('src')]);"


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium that can reach nothing: names do not resolve, http(s) requests are blocked."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--window-size=1300,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-offline')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
    try:
        yield driver
    finally:
        driver.quit()


def _plots(root: Path, out: Path, *command: str) -> Path:
    subprocess.run(["dvc", "plots", *command, "-o", str(out)], cwd=root, check=True, capture_output=True, text=True)
    page = out / "index.html"
    html = page.read_text()
    assert "cdn.jsdelivr" not in html and not re.search(r"<script[^>]+src=", html), "a script from the network"
    assert 'data-package="vega@5.20.2"' in html and 'data-package="vega-embed@6.18.2"' in html
    return page


def _wait(driver: object, script: str, ready: object, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = driver.execute_script(script)
        if ready(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_plots_show_draws_every_chart_and_image_offline(
    trained_demo: Path, offline_browser: object, tmp_path: Path, screenshot_dir: Path
) -> None:
    page = _plots(trained_demo, tmp_path / "show", "show")
    html = page.read_text()
    n_charts = html.count("vegaEmbed('#")
    pngs = sorted((trained_demo / "reports/confusion").glob("*.png"))
    pngs += [p for p in (trained_demo / f"reports/curves/{m}.png" for m in ("lstm", "tcn", "convlstm")) if p.is_file()]
    assert n_charts >= 3 and pngs, "the confusion-matrix data plots, two learning-curve charts, the PNGs"
    offline_browser.get(page.as_uri())
    charts = _wait(offline_browser, CHARTS_JS, lambda c: len(c) == n_charts and all(x[0] for x in c))
    assert len(charts) == n_charts, f"{len(charts)} of {n_charts} vega charts drawn"
    assert all(inked and w > 50 and h > 50 for inked, w, h in charts), charts
    images = _wait(offline_browser, IMAGES_JS, lambda i: len(i) >= len(pngs) and all(x[0] for x in i))
    assert len(images) == len(pngs), images
    assert all(done and width > 0 for done, width, _ in images), images
    copied = {"workspace_" + str(p.relative_to(trained_demo)).replace("/", "_") for p in pngs}  # DVC's copies
    assert {Path(src).name for *_, src in images} == copied
    errors = [e for e in offline_browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    offline_browser.save_screenshot(str(screenshot_dir / "dvc_plots.png"))


def test_plots_diff_uses_the_offline_template(trained_demo: Path, tmp_path: Path) -> None:
    page = _plots(trained_demo, tmp_path / "diff", "diff")
    assert "vegaEmbed('#" in page.read_text()
