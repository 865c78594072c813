"""The static site: escaped user text, no external assets, and (in a real headless
chromium driven by Playwright) the table's order, sorting by a click, the submission
pages and their plots.

The browser tests need Debian's ``chromium`` (``make`` installs it) and the ``site``
extra (Playwright for Python, which is never asked to download a browser). Set
``VPRMETRICS_UPDATE_DOCS_IMAGES=1`` to refresh the screenshots in ``docs/img/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.leaderboard.world import HOSTILE
from vprmetrics.errors import InputError
from vprmetrics.leaderboard import Leaderboard

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(board, tmp_path_factory):
    return board.build_site(tmp_path_factory.mktemp("site") / "site")


def _table(site: Path) -> Path:
    return site / "1-lbtown" / "index.html"


def test_user_text_is_escaped_and_nothing_is_external(board, site):
    pages = list(site.rglob("*.html"))
    assert len(pages) == 2 + 5  # index, one table, five scored entries
    for path in pages:
        text = path.read_text()
        assert HOSTILE not in text and "team <b>" not in text
        assert not re.search(r"""(src|href)=['"]?(https?:)?//""", text), path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _table(site).read_text()
    standings = json.loads((site / "1-lbtown" / "standings.json").read_text())
    assert [r["name"] for r in standings["rows"]] == [r.entry.name for r in board.standings().rows]


def test_a_rebuild_replaces_the_site(fresh, world, tmp_path):
    board = Leaderboard(fresh)
    board.submit([world["winner"]], "only")
    site = board.build_site(tmp_path / "site")
    (site / "stale.html").write_text("old")
    assert board.build_site(site) == site
    assert not (site / "stale.html").exists() and _table(site).is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(InputError, match="is not a site built by vprmetrics"):
        board.build_site(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium found: install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("chromium is here but Playwright is not: pip install 'vprmetrics[site]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    p = browser.new_page(viewport={"width": 1280, "height": 900})
    p.dialogs = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    p.errors = []
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    yield p
    assert p.errors == [] and p.dialogs == []  # no script error, no alert ever fired
    p.close()


def _names(page) -> list[str]:
    return page.eval_on_selector_all(
        "#standings tbody tr", "rows => rows.map(r => r.cells[1].innerText)"
    )


def _click(page, col: str) -> None:
    page.click(f"#standings th[data-col='{col}']")


def test_the_table_lists_the_entries_in_rank_order(page, site):
    page.goto((site / "index.html").as_uri())
    page.click("text=lbtown")
    assert page.url.endswith("1-lbtown/index.html")
    assert _names(page) == ["winner", "mid-a", "mid-b", HOSTILE, "collapsed"]
    ranks = page.eval_on_selector_all(
        "#standings tbody tr", "r => r.map(x => x.cells[0].innerText)"
    )
    assert ranks == ["1", "2", "2", "4", "5"]
    flagged = page.eval_on_selector_all(
        "#standings tbody tr", "r => r.filter(x => x.querySelector('.flag')).length"
    )
    assert flagged == 1
    assert page.locator("#rejected").inner_text().count("NaN") == 1
    if os.environ.get("VPRMETRICS_UPDATE_DOCS_IMAGES"):
        page.screenshot(path=str(DOCS_IMG / "leaderboard.png"), full_page=True)


def test_clicking_a_header_sorts_by_that_column(page, site):
    page.goto(_table(site).as_uri())
    _click(page, "R@1")  # sorted descending already: a click turns it to ascending
    assert _names(page) == ["collapsed", HOSTILE, "mid-b", "mid-a", "winner"]
    _click(page, "name")
    assert _names(page) == [HOSTILE, "collapsed", "mid-a", "mid-b", "winner"]
    assert page.get_attribute("#standings th[data-col='name']", "aria-sort") == "ascending"
    _click(page, "PSSR")  # a metric sorts best first
    assert _names(page) == ["winner", "mid-a", "mid-b", HOSTILE, "collapsed"]
    _click(page, "rank")
    assert _names(page)[0] == "winner" and _names(page)[-1] == "collapsed"


def test_a_submission_page_shows_its_plots_and_provenance(page, site):
    page.goto(_table(site).as_uri())
    page.click("#standings a:text-is('winner')")
    assert page.inner_text("#entry-name") == "winner"
    images = page.eval_on_selector_all(
        "#plots img", "els => els.map(e => [e.complete, e.naturalWidth])"
    )
    assert len(images) == 4 and all(done and width > 100 for done, width in images)
    provenance = page.inner_text("#provenance")
    assert "submission_sha256" in provenance and "ground_truth_sha256" in provenance
    assert "bytes_per_descriptor" in provenance
    if os.environ.get("VPRMETRICS_UPDATE_DOCS_IMAGES"):
        page.screenshot(path=str(DOCS_IMG / "leaderboard-entry.png"))


def test_the_hostile_name_renders_as_text(page, site):
    page.goto(_table(site).as_uri())
    link = page.locator("#standings tbody tr").nth(3).locator("a")
    assert link.inner_text() == HOSTILE
    assert page.eval_on_selector_all("script", "s => s.length") == 1  # only the sorter
    link.click()
    assert page.inner_text("#entry-name") == HOSTILE
    assert page.eval_on_selector_all("script", "s => s.length") == 0
    assert "team <b>" in page.inner_text("#provenance")
