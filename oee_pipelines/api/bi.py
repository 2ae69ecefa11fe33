"""The BI pages served by the sidecar: the export page `/oee/analytics` and the Tableau Web Data Connector.

Plain HTML and JavaScript files from `api/static/`, no build and nothing from a CDN. The pages need no
key to load; they ask for the API key and send it with every API call they make.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse, Response

from oee_pipelines.api.deps import ApiServices, get_services

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = {
    "analytics.js": "text/javascript",
    "analytics.css": "text/css",
    "chart.js": "text/javascript",
    "tableau_wdc.js": "text/javascript",
}
# Tableau's WDC 2.0 library is not redistributed here: an operator downloads it once and points this
# variable at it (`ApiSettings.tableau_library`).
TABLEAU_LIBRARY_ENV = "OEE_TABLEAU_WDC_JS"

router = APIRouter(tags=["BI pages"], include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/oee/analytics")
def analytics_page() -> FileResponse:
    return _page("analytics.html")


@router.get("/bi/tableau")
def tableau_redirect() -> RedirectResponse:
    # Relative asset URLs in the page resolve against the trailing slash.
    return RedirectResponse("/bi/tableau/")


@router.get("/bi/tableau/")
def tableau_connector_page() -> FileResponse:
    return _page("tableau_wdc.html")


@router.get("/bi/tableau/tableauwdc-2.0.latest.js")
def tableau_library(services: ApiServices = Depends(get_services)) -> Response:
    path = services.settings.tableau_library
    if not path or not Path(path).is_file():
        message = (
            f"// Tableau's WDC library is not installed: set {TABLEAU_LIBRARY_ENV} (see docs/bi/tableau.md)\n"
        )
        return Response(message, status_code=404, media_type="text/javascript")
    return FileResponse(path, media_type="text/javascript")


@router.get("/bi/assets/{name}")
def asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})
