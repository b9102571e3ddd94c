"""The HTML report in a real browser: Debian's Chromium, headless, driven by Playwright
(with the system browser: Playwright never downloads one here). Skipped on a developer's
machine without them; CI installs both and fails instead of skipping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SAMPLE_DEFECTS, make_pairs, need_executable, need_module, save

import nanaudit
from nanaudit.formats import Format, render

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium = need_executable("chromium")
    sync_api = need_module("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=chromium,
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
    finally:
        playwright.stop()


class Visit:
    """A page opened from a file, with what it asked the network for and said."""

    def __init__(self, context: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.as_uri(), wait_until="load")

    def left_the_page(self, own: str) -> list[str]:
        return [u for u in self.requests if u != own and not u.startswith("data:")]

    def images(self) -> list[list[Any]]:
        return self.page.evaluate(  # type: ignore[no-any-return]
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )


def test_the_sample_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    report = nanaudit.scan(SAMPLE, thumbnails=True)
    path = tmp_path / "report.html"
    path.write_text(render(report, Format.HTML), encoding="utf-8")
    visit = Visit(browser, path)
    page = visit.page
    try:
        assert visit.errors == []
        assert visit.left_the_page(path.as_uri()) == []
        checks = sorted({f.check for f in report.findings})
        cards = page.evaluate(
            """Array.from(document.querySelectorAll("article.card")).map(c => [
                c.dataset.check,
                Array.from(c.querySelectorAll(".shown")).map(s => [
                    s.querySelector(".message code.path").innerText,
                    s.querySelectorAll("img").length])])"""
        )
        assert sorted(c for c, _ in cards) == checks  # one card per check
        shown = {(check, file): n for check, items in cards for file, n in items}
        for planted in SAMPLE_DEFECTS:
            assert shown.get(planted, 0) >= 1, planted  # the defect, with its picture
        images = visit.images()
        assert len(images) > 40
        assert all(done and w > 0 and h > 0 for done, w, h in images)
        assert page.locator("section.split svg").count() >= 6  # the charts drew
        shot = tmp_path / "report.png"  # the test's artifact: the page as a reader sees it
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 50_000
    finally:
        page.close()


def test_a_hostile_file_name_is_text_in_chromium(browser: Any, tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3)
    name = "<img src=x onerror=alert(1)>\"'<script>alert(2)</script"
    save(root / "images" / f"{name}.png", np.full((64, 64, 3), 9, np.uint8))
    save(root / "masks" / f"{name}.png", np.zeros((64, 64), np.uint8))
    path = tmp_path / "hostile.html"
    path.write_text(render(nanaudit.scan(root, thumbnails=True), Format.HTML), encoding="utf-8")
    visit = Visit(browser, path)
    page = visit.page
    try:
        assert visit.dialogs == [] and visit.errors == []
        assert visit.left_the_page(path.as_uri()) == []
        card = page.locator('article[data-check="NA103"] .shown .message code.path')
        assert card.inner_text() == f"images/{name}.png"
        assert page.evaluate("document.scripts.length") == 1  # only the page's own
        assert page.locator("img[onerror]").count() == 0
        assert all(done and w > 0 for done, w, _ in visit.images())
        page.screenshot(path=str(tmp_path / "hostile.png"))
    finally:
        page.close()
