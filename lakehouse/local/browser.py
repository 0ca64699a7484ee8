"""Headless Chromium for the dashboard's browser tests and render benchmark (Playwright for Python).

Debian's ``chromium`` (``make browser`` installs it; Playwright's own browser download cannot run here) with
the flags of ``../shared/DESIGN.md`` §4. :func:`wait_drawn` waits until a dashboard page is drawn: its
``page-done: <title>`` marker (written by :func:`dashboards.app.ui.page` after everything else) is shown, no
element of a previous run is left (Streamlit's ``data-stale``), and every Plotly chart on it has drawn its SVG.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("LAKEHOUSE_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]')


class BrowserMissing(RuntimeError):
    """No Chromium to drive: the message says how to install it."""


def chromium_path() -> Path:
    """The Chromium executable; :class:`BrowserMissing` naming the install command when there is none."""
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return Path(found)
    raise BrowserMissing(f"no Chromium at {CHROMIUM}: install Debian's package (`make browser`, or "
                         "`apt-get install chromium`) or set LAKEHOUSE_CHROMIUM to its path")


@contextmanager
def browser_page(width: int = 1400, height: int = 1800) -> Iterator[Any]:
    """A Playwright page in a fresh headless Chromium (closed on exit)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=list(FLAGS))
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def wait_drawn(page: Any, title: str, timeout_ms: float = 60_000) -> float:
    """Wait until the dashboard page ``title`` is drawn (marker shown, every chart's SVG present); returns the
    seconds waited. Raises Playwright's ``TimeoutError`` when it is not drawn in time."""
    started = time.perf_counter()
    page.get_by_text(f"page-done: {title} ").wait_for(timeout=timeout_ms)
    # during a rerun (a filter changed) Streamlit keeps the previous run's elements, marked data-stale="true",
    # until the script replaces them: the page is drawn once none is stale and every chart has its SVG
    page.wait_for_function(
        "() => !document.querySelector('[data-stale=\"true\"]') && "
        "[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')].every(c => c.querySelector('.main-svg'))",
        timeout=timeout_ms)
    return time.perf_counter() - started


def metrics_on(page: Any) -> dict[str, str]:
    """The KPI cards on the page: ``{label: value text}``."""
    out = {}
    for card in page.locator('[data-testid="stMetric"]').all():
        label = card.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = card.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def errors_on(page: Any) -> list[str]:
    """The texts of the error elements shown (exceptions and ``st.error`` messages)."""
    return [text for selector in ERROR_SELECTORS for text in page.locator(selector).all_inner_texts()]
