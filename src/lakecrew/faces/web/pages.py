"""The server-rendered pages: login, estate, findings, actions, pipelines, FinOps, governance,
rules (the SOP sections the findings link to). Every page is a Jinja2 template with autoescape
on, over the view models of views.py; the POST forms call the same Dashboard methods as the API.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lakecrew.faces.web import auth as web
from lakecrew.faces.web.accounts import Session
from lakecrew.faces.web.oidc import (
    CALLBACK_PATH,
    PENDING_TTL,
    STATE_COOKIE,
    LoginRefused,
    OidcLogin,
    cookie_path,
)
from lakecrew.faces.web.render import environment
from lakecrew.faces.web.views import FindingQuery

router = APIRouter(include_in_schema=False)
NAV = (
    ("/", "Estate"),
    ("/findings", "Findings"),
    ("/actions", "Actions"),
    ("/pipelines", "Pipelines"),
    ("/finops", "FinOps"),
    ("/governance", "Governance"),
    ("/models", "Models"),
    ("/rules", "Rules"),
)


def render(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    op = {
        "operator": bool(session and session.user.operator),
        "csrf": session.csrf if session else "",
        "rules_href": "/rules",
    }
    page = environment().get_template(template)
    text = page.render(nav=NAV, path=request.url.path, session=session, op=op, **context)
    return HTMLResponse(text, status)


def _opt(value: str | None) -> str | None:
    return value if value else None


@router.get("/login")
def login_form(request: Request, next: str = "/", error: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    oidc: OidcLogin | None = request.app.state.oidc
    context = {"next": next, "csrf": token, "error": error, "sso": oidc.label if oidc else None}
    response = render(request, "login.html", context)
    response.set_cookie(
        web.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login"
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    cookie = request.cookies.get(web.LOGIN_CSRF_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, form.get("csrf_token", "")):
        return render(request, "error.html", {"message": "missing or wrong CSRF token"}, status=403)
    accounts = web.accounts(request)
    user = accounts.verify(form.get("username", ""), form.get("password", ""))
    if user is None:
        return RedirectResponse("/login?error=1", 303)
    token, _ = accounts.open_session(user)
    return web.login_response(request, token, form.get("next", "/"))


@router.get("/models")
def models(request: Request, _: web.SessionDep) -> Response:
    return render(request, "models.html", {"m": web.dashboard(request).models()})


@router.get("/auth/oidc/start")
def oidc_start(request: Request, next: str = "/") -> Response:
    """Off to the identity provider (state cookie for the callback: SameSite=Lax, since the
    provider's redirect back is a cross-site navigation)."""
    oidc: OidcLogin | None = request.app.state.oidc
    if oidc is None:
        return render(request, "error.html", {"message": "no OIDC provider is set up"}, status=404)
    try:
        url, state = oidc.start(next if web.local_path(next) else "/")
    except LoginRefused as exc:
        return render(request, "error.html", {"message": f"sign-in refused: {exc}"}, status=502)
    response = RedirectResponse(url, 303)
    cfg: web.WebConfig = request.app.state.config
    response.set_cookie(
        STATE_COOKIE, state, max_age=int(PENDING_TTL), httponly=True, samesite="lax",
        secure=cfg.secure_cookies, path=cookie_path(),
    )  # fmt: skip
    return response


@router.get(CALLBACK_PATH)
def oidc_callback(request: Request) -> Response:
    """The provider's redirect back: every check in oidc.py, then a session (403 else)."""
    oidc: OidcLogin | None = request.app.state.oidc
    if oidc is None:
        return render(request, "error.html", {"message": "no OIDC provider is set up"}, status=404)
    response: Response
    try:
        who, target = oidc.finish(dict(request.query_params), request.cookies.get(STATE_COOKIE))
    except LoginRefused as exc:
        response = render(request, "error.html", {"message": f"sign-in refused: {exc}"}, status=403)
    else:
        token, _ = web.accounts(request).open_sso_session(who.name, who.role)
        response = _sso_landing(request, token, target)
    response.delete_cookie(STATE_COOKIE, path=cookie_path())
    return response


def _sso_landing(request: Request, session_token: str, target: str) -> Response:
    """After an OIDC sign-in: a page that moves on to the target by itself (meta refresh).
    Not a redirect: the callback is the end of a cross-site navigation, on which a browser
    does not send the SameSite=Strict session cookie; the refresh is a same-site one."""
    shown = target if web.local_path(target) else "/"
    response = render(request, "signed_in.html", {"target": shown})
    web.set_session_cookie(request, response, session_token)
    return response


@router.post("/logout")
async def logout(request: Request, session: web.SessionDep) -> Response:
    form = await request.form()
    web.check_csrf(session, str(form.get("csrf_token", "")))
    web.accounts(request).close_session(request.cookies.get(web.COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(web.COOKIE, path="/")
    return response


@router.get("/")
def estate(request: Request, _: web.SessionDep) -> Response:
    from lakecrew.faces.web.render import overview_charts

    data = web.dashboard(request).overview()
    return render(request, "estate.html", {"o": data, "charts": overview_charts(data)})


@router.get("/findings")
def findings(
    request: Request,
    _: web.SessionDep,
    workspace: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    page: int = 1,
) -> Response:
    query = FindingQuery(
        _opt(workspace), _opt(rule), _opt(severity), _opt(owner), _opt(status), page
    )
    data = web.dashboard(request).findings(query)
    return render(
        request, "findings.html", {"page": data, "done": request.query_params.get("done")}
    )


@router.post("/findings/exempt")
async def exempt(request: Request, session: web.OperatorDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    web.check_csrf(session, form.get("csrf_token"))
    web.dashboard(request).exempt(form, user=session.user.name)
    return RedirectResponse("/findings?done=exempted", 303)


@router.get("/actions")
def actions(
    request: Request,
    _: web.SessionDep,
    workspace: str | None = None,
    status: str | None = None,
) -> Response:
    data = web.dashboard(request).actions(_opt(workspace), _opt(status))
    return render(request, "actions.html", {"a": data, "done": request.query_params.get("done")})


@router.post("/actions/{action_id}/approve")
async def approve(request: Request, action_id: str, session: web.OperatorDep) -> Response:
    form = await request.form()
    web.check_csrf(session, str(form.get("csrf_token", "")))
    reason = str(form.get("reason", ""))
    web.dashboard(request).approve(action_id, user=session.user.name, reason=reason)
    return RedirectResponse("/actions?done=approved", 303)


@router.post("/actions/{action_id}/rollback")
async def rollback(request: Request, action_id: str, session: web.OperatorDep) -> Response:
    form = await request.form()
    web.check_csrf(session, str(form.get("csrf_token", "")))
    if form.get("confirm") != "yes":
        return render(
            request, "error.html", {"message": "confirm the rollback (tick the box)"}, status=400
        )
    web.dashboard(request).rollback(action_id, user=session.user.name)
    return RedirectResponse("/actions?done=rolled+back", 303)


@router.get("/pipelines")
def pipelines(request: Request, _: web.SessionDep) -> Response:
    from lakecrew.faces.web.render import pipeline_charts

    data = web.dashboard(request).pipelines()
    return render(request, "pipelines.html", {"p": data, "charts": pipeline_charts(data)})


@router.get("/finops")
def finops(request: Request, _: web.SessionDep) -> Response:
    from lakecrew.faces.web.render import finops_charts

    data = web.dashboard(request).cost()
    return render(request, "finops.html", {"f": data, "charts": finops_charts(data)})


@router.get("/governance")
def governance(request: Request, _: web.SessionDep) -> Response:
    from lakecrew.faces.web.render import governance_charts

    data = web.dashboard(request).governance()
    return render(request, "governance.html", {"g": data, "charts": governance_charts(data)})


@router.get("/rules")
def rules(request: Request, _: web.SessionDep) -> Response:
    return render(request, "rules.html", {"rules": web.dashboard(request).rules()})
