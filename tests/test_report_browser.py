"""The tour's report in a real browser (headless Chromium through Playwright): what a reader sees
on the first screen of each study, the folded proof, print, and no console error.

Screenshots (the top of the page, one study section with its first block closed and open) are
written to the test's folder, or to $INITLAB_SCREENSHOTS when it is set, to be looked at.
"""

from __future__ import annotations

import pytest

from _browser import needs_chromium
from _tour import run_tour
from initlab import list_studies

# A laptop's browser window: what "the first screen" of a section means here.
VIEWPORT = {"width": 1280, "height": 800}

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


@pytest.fixture()
def page(browser, tmp_path_factory):
    tour = run_tour(tmp_path_factory.getbasetemp())
    assert tour.status == 0, tour.err
    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: r.url.startswith("http") and errors.append(f"fetched {r.url}"))
    page.goto((tour.folder / "report.html").resolve().as_uri())
    page.wait_for_load_state("load")
    yield page
    page.close()
    assert not errors, errors  # any console error, or anything fetched from the network


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def _top_of(page, element_id: str) -> None:
    page.evaluate(f"document.getElementById({element_id!r}).scrollIntoView()")
    page.wait_for_timeout(100)  # the table of contents marks the section on the next frame


def test_top_of_page(page, shots):
    page.screenshot(path=shots / "top.png")
    # The title, the ledger's first answers and the table of contents, on the first screen.
    assert _box(page, "h1")["y"] < 100
    assert _box(page, "table.ledger tbody tr")["y"] < VIEWPORT["height"]
    toc = page.locator("nav.toc a")
    assert toc.count() == 1 + len(list_studies())
    # Every figure decoded (none broken), every block of proof closed.
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.evaluate("[...document.querySelectorAll('details')].every(d => !d.open)")


@pytest.mark.parametrize("name", list_studies())
def test_first_screen_of_each_study(page, name):
    _top_of(page, name)
    height = VIEWPORT["height"]
    question = _box(page, f"#{name} .question")
    answer = _box(page, f"#{name} .answer")
    figure = _box(page, f"#{name} > figure img")
    # Question, then the whole answer box, then the figure that shows it, starting on the
    # first screen with at least a quarter of the screen of it in view.
    assert 0 <= question["y"] < answer["y"] < figure["y"], (question, answer, figure)
    assert answer["y"] + answer["height"] <= height
    assert figure["y"] <= height * 3 / 4
    # Shown large: the figure takes most of the article's width.
    assert figure["width"] >= 0.5 * _box(page, "main")["width"]
    # The table of contents stays on screen and marks this section.
    assert _box(page, "nav.toc")["y"] == 0
    assert page.locator("nav.toc a.current").get_attribute("href") == f"#{name}"


def test_a_section_collapsed_and_expanded(page, shots):
    name = "dls-initialization"
    block = page.locator(f"#{name} details").first
    block.scroll_into_view_if_needed()
    inner = block.locator(".inner")
    assert not inner.is_visible()
    page.screenshot(path=shots / f"{name}-collapsed.png")
    block.locator("summary").click()
    assert block.evaluate("d => d.open") and inner.is_visible()
    page.screenshot(path=shots / f"{name}-expanded.png")
    # A link into a closed block opens it: the evidence of a claim, from its answer.
    evidence = page.locator("#symmetry .answer a", has_text="Evidence").first
    target = evidence.get_attribute("href")[1:]
    evidence.click()
    assert page.locator(f"[id='{target}']").is_visible()


def test_table_headers_are_readable(page):
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    # For every header of three or more words, the number of lines it is drawn on: fewer lines
    # than words (no header set one word per line).
    cramped = page.evaluate(
        """[...document.querySelectorAll('table.data th')].flatMap(th => {
            const words = th.textContent.trim().split(/\\s+/);
            if (words.length < 3) return [];
            const range = document.createRange();
            range.selectNodeContents(th);
            const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return lines.size >= words.length ? [th.textContent] : [];
        })"""
    )
    assert not cramped, cramped


def test_print_opens_every_block(page):
    page.emulate_media(media="print")
    assert not page.locator("nav.toc").is_visible()
    inner = page.locator("details .inner")
    assert inner.count() > 10
    assert all(inner.nth(i).is_visible() for i in range(0, inner.count(), 7))
