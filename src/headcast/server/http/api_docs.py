"""``/docs``: Swagger UI for the OpenAPI schema, served from the ``swagger-ui-bundle-v2``
package (nothing from a CDN, so it works offline), under a Content-Security-Policy that lets
the page run only this server's scripts and talk only to this server.

Off with ``api_docs = false``; ``/openapi.json`` stays for clients either way.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from headcast.server.http.errors import ApiError
from headcast.server.http.page_files import MEDIA_TYPES, page_headers

SWAGGER_UI_DIR = Path(str(swagger_ui_path))
SWAGGER_UI_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
DOCS_HEADERS = page_headers(
    # Swagger UI sets inline style attributes; scripts and requests stay on this server.
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>headcast API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""
# In a file of its own: the policy allows no inline script. No validator badge (it would call
# validator.swagger.io) and no OAuth2 redirect page (keys are plain headers).
START_SCRIPT = """"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: false,
});
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE, headers=DOCS_HEADERS)


@router.get("/docs/start.js")
async def docs_start_script() -> Response:
    return Response(START_SCRIPT, media_type=MEDIA_TYPES[".js"], headers=DOCS_HEADERS)


@router.get("/docs/{name}")
async def docs_asset(name: str) -> FileResponse:
    if name not in SWAGGER_UI_FILES:
        raise ApiError(404, "not_found", f"no file '{name}' in the API docs")
    path = SWAGGER_UI_DIR / name
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=DOCS_HEADERS)
