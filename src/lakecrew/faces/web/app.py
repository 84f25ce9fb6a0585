"""The FastAPI application of `lakecrew serve`: pages (pages.py), the JSON API (api.py), the
login, and what protects them all.

- Authentication: a session cookie (`lakecrew_session`: HttpOnly, SameSite=Strict, Secure
  with `secure_cookies`) naming a server-side session (accounts.py). Pages without a session
  redirect to /login; the API answers 401.
- Sign-in: local accounts (accounts.py), and with `web.oidc` in lakecrew.yaml an OpenID
  Connect provider (oidc.py: code flow with PKCE, state, nonce, ID token verified against the
  provider's JWKS, claims mapped to a role).
- Authorisation: `viewer` reads; `operator` also approves, exempts and rolls back (403 else).
- CSRF: every POST carries the session's token (form field `csrf_token`, or the
  `X-CSRF-Token` header for the API); the login form a double-submit cookie. 403 without it.
- Headers on every response: a CSP with no inline script or style and no external origin,
  nosniff, frame-ancestors none / X-Frame-Options DENY, no referrer, no-store for
  non-static responses.
- Errors: a LakecrewError becomes its one line (redacted) with 400/404/409; nothing else of
  the exception reaches the client.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from lakecrew.core.errors import (
    Conflict,
    LakecrewError,
    NotFound,
    PermissionDenied,
    SafetyRefusal,
    UnknownName,
    UsageError,
)
from lakecrew.core.redact import redact_text
from lakecrew.faces.web import api, pages
from lakecrew.faces.web.accounts import Accounts, accounts_path
from lakecrew.faces.web.auth import NotLoggedIn, SessionDep, WebConfig
from lakecrew.faces.web.service import Dashboard

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["WebConfig", "create_app"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(config: WebConfig) -> FastAPI:
    """The application for one project (accounts in `.lakecrew/web/accounts.db`)."""
    app = FastAPI(
        title="lakecrew",
        summary="The SOP crew's findings, actions, pipelines, cost and governance.",
        docs_url=None,  # Swagger UI loads scripts from a CDN; the schema: /api/openapi.json
        redoc_url=None,
        openapi_url=None,
    )
    app.state.config = config
    app.state.accounts = Accounts(accounts_path(config.project))
    app.state.dashboard = Dashboard(config.project, clock=config.clock)
    app.state.oidc = app.state.dashboard.oidc()
    app.middleware("http")(_security_headers)
    app.add_exception_handler(NotLoggedIn, _not_logged_in)
    app.add_exception_handler(LakecrewError, _lakecrew_error)
    app.add_exception_handler(HTTPException, _http_error)
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(_: SessionDep) -> dict[str, Any]:
        return app.openapi()

    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _not_logged_in(request: Request, _: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "not logged in"}, 401, {"WWW-Authenticate": "Session"})
    target = request.url.path if request.method == "GET" else "/"
    return RedirectResponse(f"/login?next={target}", 303)


STATUS = (
    (UnknownName, 400),
    (NotFound, 404),
    (UsageError, 400),
    (PermissionDenied, 403),
    (Conflict, 409),
    (SafetyRefusal, 409),
)


def status_of(err: LakecrewError) -> int:
    return next((code for kind, code in STATUS if isinstance(err, kind)), 500)


def _lakecrew_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LakecrewError)
    message = redact_text(exc.one_line())
    code = status_of(exc)
    return _error(request, message, code)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(request, str(exc.detail), exc.status_code)


def _error(request: Request, message: str, code: int) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, code)
    return pages.render(request, "error.html", {"message": message}, status=code)
