"""`/docs` and `/redoc` work with no internet: headless Chromium loads them with every request to a
host other than 127.0.0.1 aborted, and every operation of the OpenAPI document is listed.

The Swagger UI screenshot is written to `docs/images/api-docs.png` on every run, so the picture in
the docs is the product's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route

from oee_pipelines.api.app import create_app
from oee_pipelines.api.docs import ASSETS
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.browser import chromium_browser

TIMEOUT_MS = 30_000
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "api-docs.png"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The real app; the docs pages need no warehouse (the pool opens on first use, never here)."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_LAKE_ROOT": str(data_dir / "lake")})
    app = create_app(settings, database_url="postgresql://127.0.0.1:1/unused", api_settings=ApiSettings())
    yield app
    app.state.services.close()


@pytest.fixture(scope="module")
def operations(docs_app: FastAPI) -> list[tuple[str, str, str]]:
    """(METHOD, path, operationId) of every operation in the OpenAPI document."""
    listed = [
        (method.upper(), path, spec["operationId"])
        for path, item in docs_app.openapi()["paths"].items()
        for method, spec in item.items()
        if method in HTTP_METHODS
    ]
    assert len(listed) > 20
    return listed


@pytest.fixture(scope="module")
def server(docs_app: FastAPI) -> Iterator[ServerThread]:
    with ServerThread(docs_app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any host but 127.0.0.1 are aborted; yields it and the aborted URLs."""
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in {"data", "blob"} or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", only_loopback)
    page = context.new_page()
    yield page, blocked
    context.close()


def test_docs_pages_reference_only_the_packaged_assets(docs_app: FastAPI) -> None:
    client = TestClient(docs_app)
    for page, asset in (
        ("/docs", "swagger-ui-bundle.js"),
        ("/docs", "swagger-ui.css"),
        ("/redoc", "redoc.standalone.js"),
    ):
        html = client.get(page)
        assert html.status_code == 200
        assert f'"/docs/assets/{asset}"' in html.text
        assert "cdn." not in html.text and "fonts.googleapis" not in html.text
        assert "default-src 'self'" in html.headers["content-security-policy"]
    for name, (path, media_type) in ASSETS.items():
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(media_type)
        assert response.content == path.read_bytes()
    assert client.get("/docs/assets/README.md").status_code == 404
    assert client.get("/docs/assets/..%2Fapp.py").status_code == 404
    assert "/docs" not in {path for path in docs_app.openapi()["paths"]}


def test_swagger_ui_lists_every_operation_offline(
    server: ServerThread, offline_page: tuple[Page, list[str]], operations: list[tuple[str, str, str]]
) -> None:
    page, blocked = offline_page
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".swagger-ui .opblock .opblock-summary-path")
    page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {len(operations)}")
    listed = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('.opblock-summary-path').getAttribute('data-path'),
        ])""",
    )
    assert sorted(map(tuple, listed)) == sorted((method, path) for method, path, _ in operations)
    assert "OEE pipelines API" in page.locator(".swagger-ui .info .title").first.inner_text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert blocked == []


def test_redoc_lists_every_operation_offline(
    server: ServerThread, offline_page: tuple[Page, list[str]], operations: list[tuple[str, str, str]]
) -> None:
    page, blocked = offline_page
    page.goto(f"{server.base_url}/redoc")
    page.wait_for_selector("[data-section-id*='operation/']")
    section_ids = page.eval_on_selector_all(
        "[data-section-id*='operation/']", "sections => sections.map(s => s.getAttribute('data-section-id'))"
    )
    rendered = {section.rsplit("operation/", 1)[1] for section in section_ids}
    assert rendered == {operation_id for _, _, operation_id in operations}
    # The Redocly logo of the sidebar would come from cdn.redoc.ly: the page's CSP keeps it off the wire.
    assert page.get_by_text("API docs by Redocly").count() == 1
    assert blocked == []
