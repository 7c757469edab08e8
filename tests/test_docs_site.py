"""The documentation site, built and read as a reader would (marker ``docs``, run by .ci/run).

One test, so that the site is built once whatever the test distribution:

1. build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors; the
   notebooks are executed through the jupyter-cache in ``docs/_build/.jupyter_cache``, so a
   rebuild only re-executes what changed); the build time is printed;
2. every internal link of every page resolves: the target file exists and, for a link with a
   ``#fragment``, the target page has an element with that id (static check of the HTML);
3. a real headless browser (Debian's Chromium driven by Playwright, the site served by
   ``http.server`` on 127.0.0.1) loads the index, the gallery, the Case A notebook page and the
   mathematics page: every image of the page is loaded and has a non-zero size, the gallery
   has a card with a figure per notebook, MathJax typeset the equations, and the pages' links
   answer 200 from the server;
4. screenshots of the gallery and of the Case A page are written to the test's temporary
   directory (``EFFCOEF_DOCS_SCREENSHOT=path`` writes the gallery's there instead: that is
   how ``docs/_static/screenshot_gallery.png`` is made).

Needs the ``docs`` extra (``pip install -e '.[docs]'``: Sphinx, myst-nb, Playwright) and
Chromium (``apt-get install chromium``; ``EFFCOEF_CHROMIUM`` overrides the path).
``EFFCOEF_DOCS_SKIP_BUILD=1`` checks an existing build without rebuilding.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _say(config, text):
    """Print past pytest's capture (the build time belongs in the CI log)."""
    capman = config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print(text, flush=True)


def _build(config):
    if os.environ.get("EFFCOEF_DOCS_SKIP_BUILD") and (HTML / "index.html").exists():
        _say(config, "\ndocs: EFFCOEF_DOCS_SKIP_BUILD set, checking the existing build")
        return
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-b", "html", "-q",
                           str(DOCS), str(HTML)], cwd=ROOT, capture_output=True, text=True,
                          timeout=3600)
    took = time.perf_counter() - t0
    assert proc.returncode == 0, (f"sphinx -W failed after {took:.0f} s:\n"
                                  f"{proc.stdout[-5000:]}\n{proc.stderr[-10000:]}")
    _say(config, f"\ndocs: sphinx -W -b html built the site in {took:.0f} s")


# ----------------------------------------------------------------- static link check
class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.links.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") != "canonical":
            self.links.append(a["href"])


@functools.lru_cache(maxsize=None)
def _parse(path):
    page = _Page()
    page.feed(Path(path).read_text(encoding="utf-8", errors="replace"))
    return page


def _broken_links():
    broken = []
    pages = sorted(p for p in HTML.rglob("*.html")
                   if p.relative_to(HTML).parts[0] not in ("_static", "_sources"))
    assert len(pages) > 20, "the site has suspiciously few pages"
    for page in pages:
        for href in _parse(page).links:
            url = urllib.parse.urlsplit(href)
            if url.scheme or href.startswith("//") or href.startswith("mailto:"):
                continue                                  # external: not checked (no network)
            target = (page.parent / urllib.parse.unquote(url.path)).resolve() if url.path \
                else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(HTML)}: {href} (no file)")
            elif url.fragment and target.suffix == ".html" \
                    and url.fragment not in _parse(target).ids:
                broken.append(f"{page.relative_to(HTML)}: {href} (no id {url.fragment!r})")
    return broken


# ----------------------------------------------------------------- served site + browser
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served_site():
    handler = functools.partial(_Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _chromium():
    path = os.environ.get("EFFCOEF_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    assert path, "Chromium not found: apt-get install chromium (or set EFFCOEF_CHROMIUM)"
    return path


IMAGES_JS = """() => Array.from(document.querySelectorAll('article img, .bd-article img'))
    .map(img => ({src: img.getAttribute('src'), complete: img.complete,
                  naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
                  width: img.getBoundingClientRect().width,
                  height: img.getBoundingClientRect().height}))"""


def _images(page):
    page.wait_for_load_state("load")
    return page.evaluate(IMAGES_JS)


def _assert_images_shown(images, at_least, where):
    assert len(images) >= at_least, f"{where}: {len(images)} images, expected >= {at_least}"
    bad = [im for im in images if not (im["complete"] and im["naturalWidth"] > 0
                                       and im["width"] > 0 and im["height"] > 0)]
    assert not bad, f"{where}: images not shown: {bad}"


def _assert_links_answer(page, base, where):
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                          ".map(a => a.href)")
    internal = sorted({h.split("#")[0] for h in hrefs if h.startswith(base)})
    assert internal, f"{where}: no internal links"
    for url in internal:
        with urllib.request.urlopen(url, timeout=30) as resp:      # 127.0.0.1 only
            assert resp.status == 200, (where, url, resp.status)


def test_site_as_a_reader_sees_it(pytestconfig, served_site, tmp_path):
    _build(pytestconfig)
    broken = _broken_links()
    assert not broken, "broken internal links:\n" + "\n".join(broken[:50])

    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the docs extra installs playwright")
    base = served_site
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # the index: loads, names the project, its links answer
            resp = page.goto(base + "index.html")
            assert resp.status == 200
            assert "effcoef" in page.title()
            assert page.locator("article h1").first.inner_text().startswith("effcoef")
            _assert_links_answer(page, base, "index")

            # the gallery: a card with a loaded figure for every notebook of notebooks/
            page.goto(base + "gallery/index.html")
            n_notebooks = len(list((ROOT / "notebooks").glob("*.ipynb")))
            cards = page.locator(".nb-card")
            assert cards.count() == n_notebooks
            _assert_images_shown(_images(page), n_notebooks, "gallery")
            _assert_links_answer(page, base, "gallery")
            shot = Path(os.environ.get("EFFCOEF_DOCS_SCREENSHOT") or tmp_path / "gallery.png")
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 20000           # a rendered page, not a blank one

            # the Case A notebook page: executed, Figures 1-4 shown, equations typeset
            resp = page.goto(base + "gallery/case_A.html")
            assert resp.status == 200
            assert "Case A" in page.locator("article h1").first.inner_text()
            _assert_images_shown(_images(page), 4, "gallery/case_A")
            page.wait_for_function("document.querySelectorAll('mjx-container').length > 5",
                                   timeout=30000)
            outputs = page.locator(".cell_output").count()
            assert outputs >= 4, f"only {outputs} cell outputs: was the notebook executed?"
            page.screenshot(path=str(tmp_path / "gallery_case_A.png"), full_page=True)
            _assert_links_answer(page, base, "gallery/case_A")

            # the mathematics page: the module docstrings' equations, typeset by MathJax
            page.goto(base + "guide/mathematics.html")
            page.wait_for_function("document.querySelectorAll('mjx-container').length > 20",
                                   timeout=30000)
            text = page.locator("article").inner_text()
            assert "Schrödinger" in text and "Lanczos" in text
            assert not re.search(r"\\\(|\\\[", text), "untypeset TeX left on the page"

            assert not errors, f"JavaScript errors: {errors}"
        finally:
            browser.close()
