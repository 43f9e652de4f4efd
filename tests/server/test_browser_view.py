"""The browser view's files: / and /optimize serve the built page (never cached), /assets/*
its files (cached for good, with their real types), all without a token but behind the Host
and Origin checks; with no build, / says how to make one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.server import pages
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.security import Access
from velocitas_desktop.store.journal import Journal

TOKEN = "s3cret-token"
INDEX = ('<!doctype html><html><head><script type="module" src="/assets/index-abc123.js">'
         '</script><link rel="stylesheet" href="/assets/index-def456.css"></head>'
         '<body><div id="root"></div></body></html>')


@pytest.fixture
def engine(home) -> Iterator[Engine]:
    engine = Engine(journal=Journal(home / "journal.sqlite3"), restore=False)
    yield engine
    engine.close()


@pytest.fixture
def built(tmp_path) -> Path:
    """A dist folder as ``npm run build`` leaves it."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('velocitas');\n")
    (dist / "assets" / "index-def456.css").write_text("body { color: #d1d4dc; }\n")
    (dist / "assets" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (tmp_path / "secret.txt").write_text("not part of the view")
    return dist


def client_for(engine: Engine, folder: Path, token: str | None = None) -> TestClient:
    app = create_app(engine, token, webview_folder=folder,
                     access=Access.serving("127.0.0.1", allowed_hosts=["testserver"]))
    return TestClient(app)


def test_the_page_is_served_at_root_and_optimize_and_is_never_cached(engine, built):
    with client_for(engine, built) as client:
        for path in ("/", "/optimize"):
            reply = client.get(path, follow_redirects=False)
            assert reply.status_code == 200, path
            assert reply.text == INDEX
            assert reply.headers["content-type"].startswith("text/html")
            assert reply.headers["cache-control"] == "no-cache"
            assert reply.headers["x-frame-options"] == "DENY"


def test_every_file_the_page_loads_comes_from_the_server_with_its_type_and_a_long_cache(
        engine, built):
    with client_for(engine, built) as client:
        expected = {"/assets/index-abc123.js": "text/javascript",
                    "/assets/index-def456.css": "text/css",
                    "/assets/logo.svg": "image/svg+xml"}
        for url, kind in expected.items():
            reply = client.get(url)
            assert reply.status_code == 200, url
            assert reply.headers["content-type"].startswith(kind), url
            assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert reply.headers["x-content-type-options"] == "nosniff"
        assert client.get("/assets/index-abc123.js").text == "console.log('velocitas');\n"
        assert client.head("/assets/index-abc123.js").status_code == 200


def test_scripts_and_styles_go_out_gzipped_to_a_browser_that_takes_it(engine, built):
    """The same bytes, a third of the size on the wire for a real bundle; a client that does
    not ask for gzip gets the file as it is."""
    import gzip

    script = built / "assets" / "index-abc123.js"
    script.write_text("export const rows = [" + ",".join(["1.5"] * 5000) + "];\n")
    with client_for(engine, built) as client:
        zipped = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.headers["content-type"].startswith("text/javascript")
        assert int(zipped.headers["content-length"]) < script.stat().st_size / 10
        assert zipped.content == script.read_bytes()  # httpx undoes the encoding
        plain = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == script.read_bytes()
        assert gzip.decompress(pages._gzipped(str(script), script.stat().st_size,
                                              script.stat().st_mtime_ns)) == script.read_bytes()


def test_a_missing_asset_or_a_path_out_of_the_assets_folder_is_404(engine, built):
    with client_for(engine, built) as client:
        assert client.get("/assets/nothing.js").status_code == 404
        assert client.get("/assets/").status_code == 404
        for escape in ("/assets/%2e%2e/index.html", "/assets/..%2f..%2fsecret.txt",
                       "/assets/%2e%2e/%2e%2e/secret.txt"):
            reply = client.get(escape)
            assert reply.status_code == 404, escape
            assert "not part of the view" not in reply.text


def test_with_a_token_the_page_and_its_files_are_open_and_the_api_is_not(engine, built):
    with client_for(engine, built, token=TOKEN) as client:
        assert client.get("/").status_code == 200
        assert client.get("/optimize").status_code == 200
        assert client.get("/assets/index-abc123.js").status_code == 200
        assert client.get("/api/metrics").status_code == 401
        assert client.get("/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                          ).status_code == 200
        # the open prefix opens the view's files only, not a way round to the API
        assert client.get("/assets/../api/metrics").status_code in (401, 404)
        assert client.get("/assets/%2e%2e/api/metrics").status_code == 404
        # and only reads: a POST to the page's path still needs the token
        assert client.post("/").status_code == 401


def test_the_page_still_answers_only_to_the_servers_own_host_names(engine, built):
    with client_for(engine, built) as client:
        for url in ("/", "/assets/index-abc123.js"):
            reply = client.get(url, headers={"Host": "evil.example"})
            assert reply.status_code == 403, url
            assert "unknown host name" in reply.json()["detail"]


def test_without_a_build_the_root_explains_how_to_build_the_view(engine, tmp_path):
    with client_for(engine, tmp_path / "no-dist-here") as client:
        for path in ("/", "/optimize"):
            reply = client.get(path)
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith("text/html")
            assert "not built" in reply.text
            assert "make app" in reply.text and "npm ci" in reply.text
            assert 'href="/docs"' in reply.text
        assert client.get("/assets/index-abc123.js").status_code == 404
        assert client.get("/docs").status_code == 200  # the API reference still works


def test_a_build_made_while_the_server_runs_shows_on_the_next_load(engine, tmp_path, built):
    later = tmp_path / "later"
    with client_for(engine, later) as client:
        assert "not built" in client.get("/").text
        built.rename(later)
        assert client.get("/").text == INDEX


def test_the_fallback_page_loads_nothing_from_anywhere():
    from velocitas_desktop.webview import not_built_page

    html = not_built_page()
    assert "http://" not in html and "https://" not in html.replace(
        "http://www.w3.org", "")
    assert "<script" not in html


def test_asset_types_do_not_depend_on_the_platforms_mime_table():
    assert pages.content_type(Path("a.js")).startswith("text/javascript")
    assert pages.content_type(Path("a.woff2")) == "font/woff2"
    assert pages.content_type(Path("a.unknownext")) == "application/octet-stream"
