"""Headless Chromium for the UI tests: Debian's browser, never a downloaded one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.test_ui import CHROMIUM, CHROMIUM_ARGS, WAIT_MS


@contextmanager
def logged_in(url: str, name: str, password: str) -> Iterator[Any]:
    """A page of the app at ``url``, past Gradio's login; skips when Chromium is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)
            page.goto(url)
            page.locator("input[type=text]").fill(name)
            page.locator("input[type=password]").fill(password)
            page.get_by_role("button").click()
            yield page
        finally:
            browser.close()
