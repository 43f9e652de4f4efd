"""The API reference (/docs, /redoc) works on a machine without internet: every script, style
sheet and icon its pages load is served by Velocitas itself, token or not."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from velocitas_desktop.server.runner import ServerThread

pytestmark = pytest.mark.slow  # a real uvicorn server on 127.0.0.1

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
OPENAPI_31 = "isOAS31"  # Swagger UI renders OpenAPI 3.1, the version FastAPI describes


def assets_of(page: str) -> list[str]:
    return ASSET.findall(page)


@pytest.fixture
def guarded(engine) -> Iterator[httpx.Client]:
    server = ServerThread(engine, port=0, token="s3cret-token")
    server.start()
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client
    server.stop()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_of_the_reference_pages_comes_from_velocitas(api, page):
    html = api.get(page)
    assert html.status_code == 200
    assets = assets_of(html.text)
    assert assets, html.text
    for url in assets:
        assert url.startswith("/"), f"{page} loads {url} from another host"
        reply = api.get(url)
        assert reply.status_code == 200, url
        assert len(reply.content) > 1000, url
    assert "cdn" not in html.text.lower() and "fonts.googleapis" not in html.text


def test_the_swagger_page_loads_a_script_that_renders_the_apis_openapi_version(api):
    assert api.get("/openapi.json").json()["openapi"].startswith("3.1")
    script = next(u for u in assets_of(api.get("/docs").text) if u.endswith(".js"))
    assert OPENAPI_31 in api.get(script).text
    assert api.get("/docs/oauth2-redirect").status_code == 200


def test_with_a_token_the_reference_and_its_assets_stay_open_and_the_api_does_not(guarded):
    for url in ["/docs", *assets_of(guarded.get("/docs").text)]:
        assert guarded.get(url).status_code == 200, url
    assert guarded.get("/api/strategies").status_code == 401
    assert guarded.get("/docs-assets/../api/strategies").status_code == 401
