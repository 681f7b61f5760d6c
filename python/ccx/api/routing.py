"""A small router: exact paths by dict lookup, `{param}` segments by pattern."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ccx.api.http import ProblemError, Request, Response

Handler = Callable[[Request], Awaitable[Response]]

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler
    name: str
    #: Largest request body for this route (None: the app's `api.max_body_bytes`).
    max_body: int | None = None
    #: OpenAPI operation object (summary, parameters, request body, responses, security).
    doc: dict[str, Any] | None = None


class Router:
    """Maps (method, path) to a handler; 404 for unknown paths, 405 for known paths."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Route]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        name: str = "",
        max_body: int | None = None,
        doc: dict[str, Any] | None = None,
    ) -> None:
        route = Route(method.upper(), template, handler, name or template, max_body, doc)
        self.routes.append(route)
        if "{" not in template:
            self._exact.setdefault(template, {})[route.method] = route
            return
        regex = "^" + _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", template) + "$"
        for pattern, methods in self._patterns:
            if pattern.pattern == regex:
                methods[route.method] = route
                return
        self._patterns.append((re.compile(regex), {route.method: route}))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and path parameters for a request, or a 404/405 problem."""
        methods = self._exact.get(path)
        params: dict[str, str] = {}
        if methods is None:
            for pattern, candidates in self._patterns:
                match = pattern.match(path)
                if match:
                    methods, params = candidates, match.groupdict()
                    break
        if methods is None:
            raise ProblemError(404, "Not Found", f"No route for {path}.", kind="not-found")
        route = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        if route is None:
            allow = ", ".join(sorted(methods))
            raise ProblemError(
                405,
                "Method Not Allowed",
                f"{method} is not allowed on {path}; use {allow}.",
                kind="method-not-allowed",
                headers=[("allow", allow)],
            )
        return route, params
