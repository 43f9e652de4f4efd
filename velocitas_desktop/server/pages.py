"""The browser view's files: ``/``, ``/optimize``, ``/trend`` and ``/copilot`` (its page), ``/assets/*``
(its scripts and styles), served from the built ``dist/`` folder, or a page saying how to
build it.

They are open without a token (the Guard's open paths): they hold nothing private, and the
page asks for the token before it calls the API. The Host and Origin checks still apply.
"""

from __future__ import annotations

import gzip
import mimetypes
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from velocitas_desktop import webview

# the page's own routes: each serves index.html, and the page's router shows the right view
PAGE_PATHS = ("/", "/optimize", "/trend", "/copilot")
ASSETS_PREFIX = "/assets/"
# index.html is asked again on every load (it names the current build's files); the files
# under assets/ carry a hash of their content in their name, so a browser may keep them
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
# set here, not left to the platform's mimetypes table: some map .js to a type a browser
# refuses for a module script
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
    ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml",
    ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2", ".woff": "font/woff",
    ".wasm": "application/wasm", ".txt": "text/plain; charset=utf-8",
}
# the page is never framed by another site (a framed page could be clicked through), and
# its files are taken for what they are declared as
PAGE_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}


# Scripts and styles go out gzipped to a browser that takes it (every one does): 93 KB of
# the live page's first script instead of 303 KB, which counts for a trader on another
# machine. Compressed once per file and build (its name, size and time), then kept.
COMPRESSED_SUFFIXES = frozenset({".js", ".mjs", ".css", ".html", ".json", ".svg", ".map",
                                 ".txt"})


@lru_cache(maxsize=64)
def _gzipped(path: str, size: int, mtime_ns: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


def accepts_gzip(request: Request) -> bool:
    return any(part.split(";")[0].strip() == "gzip"
               for part in request.headers.get("accept-encoding", "").split(","))


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return (CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream")


def install(app: FastAPI, folder: Path | None = None) -> None:
    """Serve the browser view built in ``folder`` (default: the package's ``dist/``). Looked
    up on each request, so a build made while the server runs shows on the next reload."""
    dist = (folder or webview.dist_folder()).resolve()

    def page() -> Response:
        if not webview.is_built(dist):
            return HTMLResponse(webview.not_built_page(),
                                headers={"Cache-Control": PAGE_CACHE, **PAGE_HEADERS})
        return FileResponse(dist / webview.INDEX, media_type=content_type(dist / webview.INDEX),
                            headers={"Cache-Control": PAGE_CACHE, **PAGE_HEADERS})

    for path in PAGE_PATHS:
        app.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)

    def asset(path: str, request: Request) -> Response:
        assets = dist / webview.ASSETS
        wanted = (assets / path).resolve()
        if not wanted.is_relative_to(assets) or not wanted.is_file():
            return Response('{"detail":"no such file in the browser view"}', status_code=404,
                            media_type="application/json")
        headers = {"Cache-Control": ASSET_CACHE, "Vary": "Accept-Encoding", **PAGE_HEADERS}
        if wanted.suffix.lower() in COMPRESSED_SUFFIXES and accepts_gzip(request):
            stat = wanted.stat()
            body = _gzipped(str(wanted), stat.st_size, stat.st_mtime_ns)
            return Response(body, media_type=content_type(wanted),
                            headers={**headers, "Content-Encoding": "gzip"})
        return FileResponse(wanted, media_type=content_type(wanted), headers=headers)

    app.add_api_route(ASSETS_PREFIX + "{path:path}", asset, methods=["GET", "HEAD"],
                      include_in_schema=False)
