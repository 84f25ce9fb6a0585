"""The JSON API under /api/: the same view models as the pages and the report, the same
session and roles. Reads need a session (401 without); writes need the operator role (403) and
the session's CSRF token in the `X-CSRF-Token` header (403 without). The schema is FastAPI's
OpenAPI document at /api/openapi.json (behind the same login).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from lakecrew.faces.web import auth as web
from lakecrew.faces.web.views import FindingQuery

router = APIRouter(prefix="/api", tags=["lakecrew"])
Json = dict[str, Any]


class ApproveBody(BaseModel):
    reason: str = Field("", max_length=500, description="Why (kept in the action's reason).")


class ExemptBody(BaseModel):
    rule: str = Field(description="Rule id, e.g. cluster.idle (or * for every rule).")
    resource: str = Field(description="Resource id, e.g. a cluster_id.")
    workspace: str = Field("*", description="The workspace, or * for every workspace.")
    reason: str = Field(min_length=1, max_length=500)
    until: str = Field(description="Expiry: YYYY-MM-DD (end of that day, UTC) or ISO 8601.")


@router.get("/me", summary="The logged-in user and the CSRF token for writes")
def me(session: web.SessionDep) -> Json:
    return {"user": session.user.name, "role": session.user.role, "csrf_token": session.csrf}


@router.get("/overview", summary="Workspaces, phases, open findings, compliance score and trend")
def overview(request: Request, _: web.SessionDep) -> Json:
    return web.dashboard(request).overview()


@router.get("/findings", summary="One page of findings, filtered")
def findings(
    request: Request,
    _: web.SessionDep,
    workspace: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Json:
    query = FindingQuery(workspace, rule, severity, owner, status, page, per_page)
    return web.dashboard(request).findings(query)


@router.get("/actions", summary="Actions with before/after diffs")
def actions(
    request: Request,
    _: web.SessionDep,
    workspace: str | None = None,
    status: str | None = None,
) -> Json:
    return web.dashboard(request).actions(workspace, status)


@router.get("/pipelines", summary="Job runs and SLA, data quality, quarantine, freshness")
def pipelines(request: Request, _: web.SessionDep) -> Json:
    return web.dashboard(request).pipelines()


@router.get("/cost", summary="The weekly cost review: allocation, budgets, anomalies, savings")
def cost(request: Request, _: web.SessionDep) -> Json:
    return web.dashboard(request).cost()


@router.get("/governance", summary="Classification coverage, grants, governance findings")
def governance(request: Request, _: web.SessionDep) -> Json:
    return web.dashboard(request).governance()


@router.get("/models", summary="MLflow models: versions, aliases, owners, last use, lineage")
def models(request: Request, _: web.SessionDep) -> Json:
    return web.dashboard(request).models()


@router.post("/actions/{action_id}/approve", summary="Approve an action awaiting approval")
def approve(
    request: Request,
    session: web.OperatorDep,
    action_id: str,
    body: ApproveBody,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Json:
    web.check_csrf(session, x_csrf_token)
    return web.dashboard(request).approve(action_id, user=session.user.name, reason=body.reason)


@router.post("/actions/{action_id}/rollback", summary="Restore an applied action's before-state")
def rollback(
    request: Request,
    session: web.OperatorDep,
    action_id: str,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Json:
    web.check_csrf(session, x_csrf_token)
    return web.dashboard(request).rollback(action_id, user=session.user.name)


@router.post("/exemptions", summary="Exempt one resource from one rule until a date")
def exempt(
    request: Request,
    session: web.OperatorDep,
    body: ExemptBody,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Json:
    web.check_csrf(session, x_csrf_token)
    return web.dashboard(request).exempt(body.model_dump(), user=session.user.name)
