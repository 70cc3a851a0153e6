"""vendor/vega/plots_template.html, the page `dvc plots show` fills: DVC's config points at it, it
has DVC's plots placeholder once and no script from the network, and it holds the pinned packages
(the drawing itself: tests/browser/test_plots.py)."""

from __future__ import annotations

import configparser
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "vendor/vega/plots_template.html"


def _pins() -> dict:
    spec = importlib.util.spec_from_file_location("vendor_vega", REPO / "scripts/vendor_vega.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PINS


def test_dvc_uses_the_offline_template() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc/config")
    assert (REPO / ".dvc" / config["plots"]["html_template"]).resolve() == TEMPLATE


def test_template_inlines_the_pinned_packages() -> None:
    html = TEMPLATE.read_text()
    assert html.count("{plot_divs}") == 1 and "{scripts}" not in html  # {scripts}: DVC's CDN tags
    assert not re.search(r"<script[^>]+src=", html)
    inlined = re.findall(r'<script type="text/javascript" data-package="([^"]+)">', html)
    assert inlined == [f"{name}@{version}" for name, (version, _, _) in _pins().items()]
    for name in _pins():  # BSD-3-Clause: the licence travels with the code
        assert "Redistribution and use in source and binary forms" in (TEMPLATE.parent / f"LICENSE-{name}").read_text()
