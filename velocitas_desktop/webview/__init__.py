"""The browser view's built files (web/ compiled by Vite into ``dist/``), shipped inside the
package, and the page the server shows in their place when they were never built.

``dist/`` is written by ``cd web && npm run build`` (``make app`` and ``make test`` run it
when it is missing or older than its sources) and is not kept in git: a wheel built after
the build carries it, and a ``pip install .`` from a checkout without Node still gives a
working server whose ``/`` says how to build the view.
"""

from __future__ import annotations

from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"
INDEX = "index.html"
ASSETS = "assets"

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>Velocitas: the browser view is not built</title>
<style>
body { background: #131722; color: #d1d4dc; font: 15px/1.5 system-ui, sans-serif;
       max-width: 44rem; margin: 4rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.4rem; } code { background: #1e222d; padding: 0.1rem 0.3rem; }
a { color: #2962ff; }
</style>
</head>
<body>
<main>
<h1>The browser view is not built in this installation</h1>
<p>The server and its API work; only the page that shows them in a browser is missing.
Build it from a source checkout with <code>make app</code>, or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> (Node 20 or later), then
reload this page.</p>
<p>The API reference is at <a href="/docs">/docs</a> (and <a href="/redoc">/redoc</a>).</p>
</main>
</body>
</html>
"""


def dist_folder() -> Path:
    """Where the built browser view lives in this installation (it may not exist)."""
    return DIST


def is_built(folder: Path | None = None) -> bool:
    """True if ``folder`` (default: the package's ``dist/``) holds a built view."""
    return ((folder or DIST) / INDEX).is_file()


def not_built_page() -> str:
    """The page ``/`` shows when the view was never built: what is missing, how to build it,
    and where the API reference is."""
    return NOT_BUILT_PAGE


__all__ = ["ASSETS", "DIST", "INDEX", "NOT_BUILT_PAGE", "dist_folder", "is_built",
           "not_built_page"]
