"""Authentication and per-key admission of HTTP requests, before any byte of their body is read.

Which routes need a key is read from the routes themselves: a route is keyed when it declares
the ``require_api_key`` dependency (the declaration that also puts the key in the OpenAPI
schema), so there is no second list to keep in step. A route that would read a request body
without a key is refused when the app is built. A path no route serves costs nothing either:
the router answers 404 without reading the body. WebSocket routes authenticate in their
handshake (``ws_protocol.accept``), where a refusal can be a message and a 1008 close.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from headcast.server.config import ServerConfig
from headcast.server.http.body_limit import has_body
from headcast.server.http.errors import ApiError, error_body
from headcast.server.http.rate_limits import AuthFailureThrottle, RateLimiter
from headcast.server.http.security import CALLER_SCOPE_KEY, identify, require_api_key


@dataclass(frozen=True)
class RouteRule:
    """Whether requests to the paths ``path_regex`` matches must carry a key."""

    path: str
    path_regex: re.Pattern[str]
    keyed: bool


def route_rules(routes: Iterable[BaseRoute]) -> list[RouteRule]:
    """One rule per HTTP route, in routing order; ValueError for a body read without a key."""
    rules = []
    for path, route in _leaf_routes(routes, ""):
        if getattr(route, "methods", None) is None and not hasattr(route, "routes"):
            continue  # a WebSocket route: keyed in its handshake
        keyed = isinstance(route, APIRoute) and _declares(route.dependant, require_api_key)
        if isinstance(route, APIRoute) and route.body_field is not None and not keyed:
            raise ValueError(f"{path} reads a request body but does not require an API key")
        pattern = (
            compile_path(path)[0] if not hasattr(route, "routes") else cast(Mount, route).path_regex
        )
        rules.append(RouteRule(path, pattern, keyed))
    return rules


def _leaf_routes(routes: Iterable[BaseRoute], prefix: str) -> Iterator[tuple[str, BaseRoute]]:
    for route in routes:
        # FastAPI keeps included routers nested (``original_router``) in recent versions.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _leaf_routes(inner.routes, prefix + getattr(context, "prefix", ""))
        else:
            yield prefix + getattr(route, "path", ""), route


def _declares(dependant: Dependant, dependency: object) -> bool:
    return any(
        sub.call is dependency or _declares(sub, dependency) for sub in dependant.dependencies
    )


def needs_key(rules: list[RouteRule], path: str) -> bool:
    for rule in rules:
        if rule.path_regex.match(path):
            return rule.keyed
    return False


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class Admission:
    """ASGI middleware: a keyed route's request is authenticated and counted against its
    caller's rate before the app sees it; a refusal is answered without reading the body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: ServerConfig,
        rate_limiter: RateLimiter,
        auth_failures: AuthFailureThrottle,
    ) -> None:
        self.app = app
        self._config = config
        self._rate_limiter = rate_limiter
        self._auth_failures = auth_failures
        self._rules: list[RouteRule] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = scope["app"]
        if self._rules is None:  # every route is in place by the first request
            self._rules = route_rules(service.routes)
        if needs_key(self._rules, _route_path(scope)):
            try:
                caller = identify(scope, self._config, self._auth_failures)
                self._rate_limiter.check(caller)
            except ApiError as refusal:
                await _refuse(scope, receive, send, refusal)
                return
            scope[CALLER_SCOPE_KEY] = caller
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: ApiError) -> None:
    headers = dict(refusal.headers or {})
    if has_body(scope):
        headers["Connection"] = "close"  # the body is never read: the connection ends here
    response = JSONResponse(
        error_body(refusal.code, refusal.message), refusal.status, headers=headers
    )
    await response(scope, receive, send)
