"""`/docs` (Swagger UI) and `/redoc` (ReDoc) from files in the package, never from a CDN.

A plant network often has no internet: FastAPI's own docs pages load their JavaScript from
jsdelivr and stay blank there. The assets are vendored under `api/static/vendor/` (versions and
licences in its README.md) and served by `/docs/assets/...`. The app is built with
`docs_url=None, redoc_url=None` and includes this router instead.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"
ASSETS_PATH = "/docs/assets"
# The only files served, by URL name: no path from the request reaches the file system.
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (VENDOR_DIR / "swagger_ui" / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (VENDOR_DIR / "swagger_ui" / "swagger-ui.css", "text/css"),
    "favicon.png": (VENDOR_DIR / "swagger_ui" / "favicon-32x32.png", "image/png"),
    "redoc.standalone.js": (VENDOR_DIR / "redoc" / "redoc.standalone.js", "text/javascript"),
}
# The files change only with a new package version; a day of caching spares a reload of 3 MB.
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400"}
# The pages fetch nothing from another origin, not even ReDoc's "API docs by Redocly" logo (an
# <img> from cdn.redoc.ly it hides when it fails to load): the browser refuses such requests before
# they reach the network. Inline script and style: FastAPI's page starts the bundle inline, and both
# bundles style with inline <style>; ReDoc's search runs in a blob: worker.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
    )
}

router = APIRouter(include_in_schema=False)


def _prefix(request: Request) -> str:
    """The app's path behind a reverse proxy (`--root-path`), like FastAPI's own docs routes."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(request: Request) -> str:
    return _prefix(request) + (request.app.openapi_url or "/openapi.json")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    assets = _prefix(request) + ASSETS_PATH
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    assets = _prefix(request) + ASSETS_PATH
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(status_code=404, detail=f"no docs asset {name!r}")
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type, headers=ASSET_HEADERS)
