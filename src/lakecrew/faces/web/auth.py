"""Who is asking and may they: the session cookie, the roles, the CSRF check (FastAPI
dependencies shared by pages.py and api.py).

- `SessionDep`: a valid session (else NotLoggedIn: pages redirect to /login, the API 401);
- `OperatorDep`: a session with the operator role (else 403);
- `check_csrf(session, token)`: 403 unless the token is the session's (constant-time compare).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from lakecrew.faces.web.accounts import Accounts, Session
from lakecrew.faces.web.service import Dashboard

if TYPE_CHECKING:
    from lakecrew.ports.clock import Clock

COOKIE = "lakecrew_session"
LOGIN_CSRF_COOKIE = "lakecrew_login_csrf"


@dataclass
class WebConfig:
    """How one server runs: the project, cookie security and (tests, demos) a fixed clock."""

    project: Path
    secure_cookies: bool = False
    clock: Clock | None = None


class NotLoggedIn(Exception):
    """No valid session: pages redirect to /login, the API answers 401."""


def accounts(request: Request) -> Accounts:
    return request.app.state.accounts  # type: ignore[no-any-return]


def dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard  # type: ignore[no-any-return]


def require_session(request: Request) -> Session:
    session = accounts(request).session(request.cookies.get(COOKIE))
    if session is None:
        raise NotLoggedIn
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(require_session)]


def require_operator(session: SessionDep) -> Session:
    if not session.user.operator:
        raise HTTPException(403, "this needs the operator role")
    return session


OperatorDep = Annotated[Session, Depends(require_operator)]


def check_csrf(session: Session, presented: str | None) -> None:
    """Refuse (403) a POST whose CSRF token is missing or not the session's."""
    if not presented or not secrets.compare_digest(presented, session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")


def login_response(request: Request, session_token: str, target: str) -> Response:
    """Redirect after a login, setting the session cookie (same-site targets only)."""
    response = RedirectResponse(target if local_path(target) else "/", 303)
    set_session_cookie(request, response, session_token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    cfg: WebConfig = request.app.state.config
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=cfg.secure_cookies, path="/"
    )


def local_path(target: str) -> bool:
    """Only same-site paths after login (no open redirect to //host or a scheme)."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target
