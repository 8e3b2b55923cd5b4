"""The HTML report in a real browser: headless Chromium loads report.html, every figure decodes,
the page logs no error, and it opens with the answer. Skipped (with the reason) where Chromium
or the ``websockets`` client is missing; scripts/setup.sh installs Chromium where apt exists."""

from __future__ import annotations

import importlib.util

import pytest

from tests.benchmark.test_report import write_results
from tests.browser import find_chromium, render
from unlearnkit.benchmark import build_report
from unlearnkit.benchmark.report import FIGURES

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium on PATH: `apt-get install chromium` (scripts/setup.sh does it where "
        "apt is available)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("websockets") is None,
        reason="the websockets package is missing: pip install -e '.[dev]'",
    ),
]


def test_report_renders_in_chromium_with_every_figure_and_no_errors(tmp_path):
    out = tmp_path / "bench"
    write_results(out, train_acc=0.995)
    page = render(build_report(out)["html"], CHROMIUM)
    assert page["errors"] == []
    assert page["figures"] == len(FIGURES) == len(page["images"])
    for img in page["images"]:
        assert img["complete"] and img["width"] > 100 and img["height"] > 100, img
    assert {img["alt"] for img in page["images"]} == set(FIGURES.values())
    # it opens with the answer: the first section after the title
    assert page["headings"][1] == "Answer"


def test_the_check_sees_a_broken_figure_and_a_script_error(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><figure><img src="figures/missing.png" alt="x"></figure>'
        "<script>console.error('boom')</script></body></html>"
    )
    page = render(bad, CHROMIUM)
    assert page["images"][0]["width"] == 0
    assert any("boom" in e for e in page["errors"])
    assert any("ERR_FILE_NOT_FOUND" in e for e in page["errors"])
