"""The API's documentation at /docs, offline: Swagger UI's script, style and icon are
served from the package (static/, swagger-ui-dist: static/NOTICE), not from a CDN that a
bureau's closed network cannot reach; nor does the page ask Swagger's online validator.
The OpenAPI document it shows has the national endpoint's `input` typed per transaction
(national_schema.py)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).parent / "static"
DOCS = "/docs"
# path -> (file in static/, media type)
ASSETS = {
    f"{DOCS}/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    f"{DOCS}/swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    f"{DOCS}/favicon.png": ("favicon-32x32.png", "image/png"),
}
PUBLIC = frozenset({DOCS, *ASSETS})  # what answers without a credential
CACHED = {"Cache-Control": "public, max-age=86400"}  # the same until the package changes


def install(app: FastAPI) -> None:
    """/docs and its assets (the app is made with docs_url=None), and the typed document."""

    async def page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{DOCS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
        )

    app.add_api_route(DOCS, page, methods=["GET"], include_in_schema=False)
    for path, (name, media_type) in ASSETS.items():
        app.add_api_route(path, _asset(name, media_type), methods=["GET"], include_in_schema=False)
    _type_national_inputs(app)


def _asset(name: str, media_type: str):
    async def asset() -> FileResponse:
        return FileResponse(STATIC / name, media_type=media_type, headers=CACHED)

    return asset


def _type_national_inputs(app: FastAPI) -> None:
    from gongji.service import national_schema

    built = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:  # FastAPI keeps the document it builds once
            national_schema.type_inputs(built())
        return app.openapi_schema

    app.openapi = openapi
