"""The dashboard at `/`: one HTML page and its static files, drawing `/api/reports/*`.

The page holds no data: its script fetches the JSON reports with the filters the user
picked and draws them with the vendored Chart.js (`static/vendor/`), so it works with no
internet access. The Content-Security-Policy makes that a promise: the browser refuses
any script, style or request that does not come from this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def dashboard_router() -> APIRouter:
    """`GET /` (the page) and `/static/*` (its script, style and chart library)."""
    router = APIRouter()
    page = (STATIC / "dashboard.html").read_text(encoding="utf-8")

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                # The page is small and changes with each release; never show a stale one.
                "Cache-Control": "no-cache",
            },
        )

    router.mount("/static", StaticFiles(directory=STATIC), name="static")
    return router
