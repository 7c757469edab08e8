"""Local Sphinx extension of the effcoef site: the notebook gallery and figures from it.

* ``config-inited``: the notebooks of ``notebooks/`` (the generator scripts' output, committed
  without outputs) are copied into ``docs/gallery/`` (only when they changed, so that
  incremental builds stay incremental; copies of deleted notebooks are removed).  Whatever
  notebook appears in ``notebooks/`` is on the site at the next build.
* ``env-before-read-docs``: notebooks are read (and executed by myst-nb, through its
  jupyter-cache) before the pages that show their figures.
* ``.. nb-gallery::`` - a card (title, first figure, link) for every notebook of the page's
  directory.
* ``.. nbfigure:: /gallery/name`` - the ``:index:``-th image output of an executed notebook as a
  figure (with the directive's content as caption and a link to the notebook), so that a page
  shows a notebook's figure without computing it twice.

The executed notebooks are taken from the jupyter-cache that myst-nb fills
(``nb_execution_cache_path``); nothing here executes code.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

GALLERY = "gallery"


# --------------------------------------------------------------------- notebook copies
def sync_notebooks(app, config):
    """Copy ``<repo>/notebooks/*.ipynb`` into ``docs/gallery`` (only what changed)."""
    src = Path(app.confdir).parent / "notebooks"
    dst = Path(app.srcdir) / GALLERY
    dst.mkdir(exist_ok=True)
    wanted = {p.name: p for p in sorted(src.glob("*.ipynb"))}
    for old in dst.glob("*.ipynb"):
        if old.name not in wanted:
            old.unlink()
    for name, path in wanted.items():
        target = dst / name
        if not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copy2(path, target)


def notebook_order(path: Path):
    """The paper's cases first, then what goes beyond them, then the rest by name."""
    name = path.stem
    rank = 0 if name.startswith("case_") else 1 if name.startswith("beyond") else 2
    return (rank, name.lower())


def gallery_notebooks(srcdir) -> list[Path]:
    return sorted((Path(srcdir) / GALLERY).glob("*.ipynb"), key=notebook_order)


def read_notebooks_first(app, env, docnames):
    """Notebooks before the other pages, so that their outputs are cached when used."""
    srcdir = Path(app.srcdir)
    docnames.sort(key=lambda d: (not (srcdir / f"{d}.ipynb").exists(), d))


def gallery_outdated(app, env, added, changed, removed):
    """Pages with a gallery or notebook figure are re-read when a notebook comes or goes."""
    touched = {d for d in set(added) | set(changed) | set(removed)
               if d.startswith(GALLERY + "/")}
    if not touched:
        return []
    users = getattr(env, "effcoef_nb_users", set())
    return sorted(u for u in users if u in env.found_docs)


def purge_doc(app, env, docname):
    users = getattr(env, "effcoef_nb_users", None)
    if users is not None:
        users.discard(docname)


def merge_info(app, env, docnames, other):
    env.effcoef_nb_users = (getattr(env, "effcoef_nb_users", set())
                            | getattr(other, "effcoef_nb_users", set()))


# --------------------------------------------------------------------- executed outputs
def notebook_title(path: Path) -> str:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].replace("$", "").strip()   # plain text for links
    return path.stem.replace("_", " ")


def executed_images(app, path: Path) -> list[bytes]:
    """PNG outputs of the executed notebook ``path``, in order, from myst-nb's cache."""
    import nbformat
    from jupyter_cache import get_cache

    nb = nbformat.read(str(path), as_version=4)
    cache = get_cache(app.config.nb_execution_cache_path)
    try:
        _, nb = cache.merge_match_into_notebook(nb)
    except KeyError:
        return []
    images = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                images.append(base64.b64decode(data["image/png"]))
    return images


def image_uri(app, data: bytes, stem: str) -> str:
    """Write ``data`` under the build directory; the URI Sphinx resolves from the source dir."""
    folder = Path(app.outdir).parent / "nbfigures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{hashlib.sha1(data).hexdigest()[:12]}.png"
    if not path.exists():
        path.write_bytes(data)
    return "/" + str(Path(_relpath(path, app.srcdir)).as_posix())


def _relpath(path, start):
    import os

    return os.path.relpath(Path(path).resolve(), Path(start).resolve())


class _NotebookDirective(SphinxDirective):
    def note_use(self, paths):
        env = self.env
        if not hasattr(env, "effcoef_nb_users"):
            env.effcoef_nb_users = set()
        env.effcoef_nb_users.add(env.docname)
        for p in paths:
            env.note_dependency(str(p))

    def doc_link(self, docname, text):
        from sphinx.addnodes import pending_xref

        ref = pending_xref("", refdomain="std", reftype="doc", reftarget="/" + docname,
                           refexplicit=True, refwarn=True)
        ref += nodes.inline(text, text)
        return ref


class NbGallery(_NotebookDirective):
    """``.. nb-gallery::`` - one card per notebook of the gallery directory."""

    has_content = False

    def run(self):
        paths = gallery_notebooks(self.env.srcdir)
        self.note_use(paths)
        grid = nodes.container(classes=["nb-gallery"])
        for path in paths:
            docname = f"{GALLERY}/{path.stem}"
            card = nodes.container(classes=["nb-card"])
            images = executed_images(self.env.app, path)
            if images:
                uri = self.env.app.builder.get_relative_uri(self.env.docname, docname)
                link = nodes.reference("", "", refuri=uri, internal=True)
                link += nodes.image(uri=image_uri(self.env.app, images[0], path.stem),
                                    alt=f"first figure of {path.name}")
                card += link
            else:
                logger.warning("nb-gallery: no executed figure for %s (not executed yet, or "
                               "without figures)", path.name, location=(self.env.docname,
                                                                         self.lineno))
            title = nodes.paragraph(classes=["nb-card-title"])
            title += self.doc_link(docname, notebook_title(path))
            card += title
            grid += card
        return [grid]


class NbFigure(_NotebookDirective):
    """``.. nbfigure:: /gallery/name`` - an image output of an executed notebook."""

    required_arguments = 1
    has_content = True
    option_spec = {"index": directives.nonnegative_int, "alt": directives.unchanged,
                   "width": directives.unchanged}

    def run(self):
        target = self.arguments[0].strip("/")
        path = Path(self.env.srcdir) / f"{target}.ipynb"
        if not path.exists():
            raise self.error(f"nbfigure: no notebook {target}.ipynb in the source tree")
        self.note_use([path])
        index = self.options.get("index", 0)
        images = executed_images(self.env.app, path)
        if index >= len(images):
            raise self.error(f"nbfigure: {path.name} has {len(images)} image outputs, "
                             f"index {index} asked for")
        fig = nodes.figure(classes=["nb-figure"])
        img = nodes.image(uri=image_uri(self.env.app, images[index], path.stem),
                          alt=self.options.get("alt", f"figure {index} of {path.name}"))
        if "width" in self.options:
            img["width"] = self.options["width"]
        fig += img
        caption = nodes.caption()
        if self.content:
            para = nodes.paragraph()
            self.state.nested_parse(self.content, self.content_offset, para)
            for child in para.children:
                caption += child.children if isinstance(child, nodes.paragraph) else child
            caption += nodes.Text(" ")
        caption += nodes.Text("(From the notebook ")
        caption += self.doc_link(target, notebook_title(path))
        caption += nodes.Text(".)")
        fig += caption
        return [fig]


# --------------------------------------------------------------------- command line help
class CliHelp(SphinxDirective):
    """``.. cli-help:: module:function`` - the ``--help`` of a parser and of its subcommands.

    The text is what the terminal shows (``argparse`` formatting, 100 columns), one section
    per subcommand, generated from the parser itself so that it cannot go stale.
    """

    required_arguments = 1

    def run(self):
        import contextlib
        import importlib
        import io
        import os
        import re

        modname, func = self.arguments[0].split(":")
        module = importlib.import_module(modname)
        self.env.note_dependency(module.__file__)
        parser = getattr(module, func)()
        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            main_help = parser.format_help()
            out = [self._block(main_help)]
            # subcommands: the "{a,b}" choice list of the usage line, each asked for --help
            found = re.search(r"\{([\w,-]+)\}", parser.format_usage())
            for name in found.group(1).split(",") if found else []:
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
                    parser.parse_args([name, "--help"])
                sec = nodes.section(ids=[f"cli-{name}"])
                sec += nodes.title("", f"{parser.prog} {name}")
                sec += self._block(buf.getvalue())
                out.append(sec)
        finally:
            if old is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = old
        return out

    @staticmethod
    def _block(text):
        block = nodes.literal_block(text, text, language="text")
        return block


# --------------------------------------------------------------------- MathJax, offline
def offline_mathjax(app, config):
    """Serve MathJax 3 from the build (package ``django-static-mathjax`` of the docs extra).

    Without it the site loads MathJax from its CDN (Sphinx's default), which needs the
    network at reading time.
    """
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        logger.info("effcoef_docs: package 'mathjax' (django-static-mathjax) not installed, "
                    "MathJax comes from its CDN")
        return
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-svg.js").exists():
        return
    static = Path(app.outdir).parent / "mathjax_static"
    dest = static / "mathjax"
    if not (dest / "tex-svg.js").exists():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(es5 / "tex-svg.js", dest / "tex-svg.js")
        ext = es5 / "input" / "tex" / "extensions"
        if ext.exists():
            shutil.copytree(ext, dest / "input" / "tex" / "extensions", dirs_exist_ok=True)
    config.html_static_path = list(config.html_static_path) + [str(static)]
    config.mathjax_path = "mathjax/tex-svg.js"


def setup(app):
    app.connect("config-inited", sync_notebooks)
    app.connect("config-inited", offline_mathjax)
    app.connect("env-before-read-docs", read_notebooks_first)
    app.connect("env-get-outdated", gallery_outdated)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.add_directive("nb-gallery", NbGallery)
    app.add_directive("nbfigure", NbFigure)
    app.add_directive("cli-help", CliHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
