"""system.access.audit: normal traffic plus labelled security bursts (the ground truth)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from lakecrew.core.system_tables import ACCESS_AUDIT
from lakecrew.services.simulate.catalogue import sim_email
from lakecrew.services.simulate.clusters import PEOPLE
from lakecrew.services.simulate.estate import ACCOUNT_ID, SimWorkspace
from lakecrew.services.simulate.model import SOP, Clock, Planted, rng_for

NORMAL: tuple[tuple[str, str, int, dict[str, str]], ...] = (  # service, action, status, params
    ("accounts", "samlLogin", 200, {}),  # people sign in through the IdP (SOP 1.4.3: SSO)
    ("unityCatalog", "getTable", 200, {"full_name_arg": "gold.weekly_summary"}),
    ("clusters", "list", 200, {}),
    ("jobs", "runNow", 200, {}),
    ("notebook", "runCommand", 200, {}),
    ("sqlPermissions", "listPermissions", 200, {}),
    ("databrickssql", "downloadQueryResult", 200, {"sizeBytes": "184320"}),
)
BURSTS = (
    ("security.failed_access", "lassa-prod-westafrica", 3),
    ("security.failed_access", "malaria-prod-westafrica", 11),
    ("security.secret_access_anomaly", "immunization-prod-westafrica", 5),
    ("security.secret_access_anomaly", "malaria-qa-westafrica", 17),
    ("security.large_download", "facility_registry-prod-westafrica", 8),
    ("security.large_download", "malaria-prod-westafrica", 20),
)


class _Events:
    def __init__(self, seed: int) -> None:
        self.rows: list[dict[str, Any]] = []
        self.seed = seed

    def add(
        self,
        ws: SimWorkspace,
        when: datetime,
        email: str,
        service: str,
        action: str,
        status: int,
        params: dict[str, str],
        ip: str,
    ) -> str:
        eid = f"sim{self.seed}-a{len(self.rows):08d}"
        self.rows.append(
            {
                "account_id": ACCOUNT_ID,
                "workspace_id": ws.workspace_id,
                "version": "2.0",
                "event_time": when,
                "event_date": when.date(),
                "source_ip_address": ip,
                "user_agent": "Mozilla/5.0 (simulated)"
                if "@" in email
                else "databricks-sdk-py/0.162.0",
                "session_id": None,
                "user_identity": {"email": email, "subject_name": None},
                "service_name": service,
                "action_name": action,
                "request_id": f"req-{eid}",
                "request_params": params,
                "response": {
                    "status_code": status,
                    "error_message": None if status < 400 else "PERMISSION_DENIED",
                    "result": None,
                },
                "audit_level": "WORKSPACE_LEVEL",
                "event_id": eid,
                "identity_metadata": None,
            }
        )
        return eid


def _normal(ev: _Events, ws: SimWorkspace, clock: Clock, rng: np.random.Generator) -> None:
    sp = f"sp-{ws.project}-etl"
    for day in range(clock.hours // 24 + 1):
        base = clock.start + timedelta(days=day)
        weekend = base.weekday() >= 5
        for _ in range(int(rng.integers(3, 8) if weekend else rng.integers(15, 30))):
            when = base + timedelta(hours=float(rng.uniform(7, 18)))
            if when >= clock.now:
                continue
            svc, act, status, params = NORMAL[int(rng.integers(len(NORMAL)))]
            if "full_name_arg" in params:  # Unity Catalog names the table in full
                params = {
                    "full_name_arg": f"{ws.project}_{ws.environment}.{params['full_name_arg']}"
                }
            ev.add(
                ws,
                when,
                sim_email(str(rng.choice(PEOPLE))),
                svc,
                act,
                status,
                dict(params),
                f"10.20.{ws.index}.{int(rng.integers(2, 250))}",
            )
        for hour in (6.5, 12.5, 18.5):  # the ETL service principal reads its secrets at job times
            when = base + timedelta(hours=hour + float(rng.uniform(0, 0.3)))
            if when < clock.now:
                ev.add(
                    ws,
                    when,
                    sp,
                    "secrets",
                    "getSecret",
                    200,
                    {"scope": f"{ws.project}-etl", "key": "dhis2-password"},
                    "10.0.0.12",
                )
        if rng.random() < 0.3:  # an isolated mistyped password, not a burst
            when = base + timedelta(hours=float(rng.uniform(8, 17)))
            if when < clock.now:
                ev.add(
                    ws,
                    when,
                    sim_email(str(rng.choice(PEOPLE))),
                    "accounts",
                    "login",
                    401,
                    {"user": "x"},
                    "10.20.0.9",
                )


def _burst(
    ev: _Events, code: str, ws: SimWorkspace, day: int, clock: Clock, rng: np.random.Generator
) -> dict[str, Any]:
    base = clock.start + timedelta(days=day)
    ids: list[str] = []
    if code == "security.failed_access":
        user, start = (
            sim_email("svc-legacy-export"),
            base + timedelta(hours=float(rng.uniform(1, 4))),
        )
        for i in range(36):
            act, status = ("login", 401) if i % 3 else ("getTable", 403)
            svc = "accounts" if act == "login" else "unityCatalog"
            ids.append(
                ev.add(
                    ws,
                    start + timedelta(seconds=13 * i),
                    user,
                    svc,
                    act,
                    status,
                    {"full_name_arg": f"{ws.project}_{ws.environment}.silver.case_reports"},
                    "197.210.55.23",
                )
            )
    elif code == "security.secret_access_anomaly":
        user, start = sim_email(str(rng.choice(PEOPLE))), base + timedelta(hours=2, minutes=10)
        for i in range(14):
            ids.append(
                ev.add(
                    ws,
                    start + timedelta(minutes=3 * i),
                    user,
                    "secrets",
                    "getSecret",
                    200,
                    {
                        "scope": f"{ws.project}-etl",
                        "key": ("dhis2-password", "db-password", "api-token")[i % 3],
                    },
                    "102.89.3.77",
                )
            )
    else:
        user, start = (
            sim_email(str(rng.choice(PEOPLE))),
            base + timedelta(hours=float(rng.uniform(19, 22))),
        )
        for i in range(6):
            act = "downloadLargeResults" if i % 2 else "downloadQueryResult"
            ids.append(
                ev.add(
                    ws,
                    start + timedelta(minutes=4 * i),
                    user,
                    "databrickssql",
                    act,
                    200,
                    {"sizeBytes": str(int(rng.integers(2, 9)) * 2**30), "queryId": f"q-{i}"},
                    "41.58.10.4",
                )
            )
    end = ev.rows[-1]["event_time"]
    return {
        "code": code,
        "workspace": ws.name,
        "user": user,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "event_count": len(ids),
        "event_ids": ids,
    }


def audit_events(
    workspaces: Sequence[SimWorkspace], clock: Clock, seed: int
) -> tuple[pa.Table, list[dict[str, Any]], list[Planted]]:
    """The audit table, the labelled security events and their violations."""
    ev = _Events(seed)
    by_name = {w.name: w for w in workspaces}
    for ws in workspaces:
        _normal(ev, ws, clock, rng_for(seed, 5, ws.index))
    truth, planted = [], []
    for k, (code, name, day) in enumerate(BURSTS):
        item = _burst(
            ev, code, by_name[name], day + clock.hours // 24 - 25, clock, rng_for(seed, 6, k)
        )
        truth.append(item)
        planted.append(
            Planted(code, SOP[code], name, "audit", f"{code}:{name}:{item['start'][:10]}")
        )
    ev.rows.sort(key=lambda r: (r["event_time"], r["event_id"]))
    return pa.Table.from_pylist(ev.rows, schema=ACCESS_AUDIT), truth, planted
