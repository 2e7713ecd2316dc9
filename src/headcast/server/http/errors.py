"""Every error leaves the service as JSON: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcast.errors import HeadcastError, InputError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(error_body("bad_input", str(exc)), 422)

    @app.exception_handler(HeadcastError)
    async def _headcast_error(_: Request, exc: HeadcastError) -> JSONResponse:
        return JSONResponse(error_body("failed", str(exc)), 422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
        return JSONResponse(error_body("bad_request", "; ".join(parts) or "invalid request"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if _is_over_long_form_field(exc):
            message = "a form field is longer than 1 MB (send large data as a file)"
            return JSONResponse(error_body("too_long", message), 422)
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    # Reached only from outside the middlewares (``UnexpectedErrors`` answers everything inside).
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal", "internal error"), 500)


HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    408: "body_timeout",
    413: "too_large",
}


def _is_over_long_form_field(exc: StarletteHTTPException) -> bool:
    """Starlette turns its multipart parser's per-field limit into a bare 400."""
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, MultiPartException) and cause.message.startswith(
        "Part exceeded maximum size"
    )


class UnexpectedErrors:
    """ASGI middleware: an unexpected exception becomes a JSON 500 here, inside the CORS and
    security-header middlewares, so the answer carries their headers like any other.

    (Starlette's own catch-all runs outside every middleware.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            log.exception("unhandled error")
            if started:
                raise  # half an answer is out: only dropping the connection tells the client
            response = JSONResponse(error_body("internal", "internal error"), 500)
            await response(scope, receive, send)
