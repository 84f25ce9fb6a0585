"""The dashboard and the single-file report (issue 19).

1. Findings page over 100,000 findings in the ledger (Delta), served by a real uvicorn on
   loopback: the HTML page and the JSON API, paginated and filtered (workspace, severity, rule,
   owner, status; pages 1..N), timed per request from the client (loopback: server time plus
   well under a millisecond of transport); p50/p95 over `--requests` requests after one warm-up
   (the first request loads the ledger's findings into DuckDB: reported as `cold`). Baselines
   in the same process: the CLI's path for one filtered list (`lc.crew.findings(...)`: read
   the ledger, filter, sort — what `lakecrew findings` does per call), median of 5; and the
   previous server path (every finding in memory, one page filtered and built in Python per
   request, as before the ledger's `finding_page`), median of 20. Also the estate page (open
   findings per workspace and severity, counted by the ledger's SQL), median of 20.
2. `lakecrew report --html` on the demo estate (`lakecrew demo --project DIR` first): seconds to
   build the view models and the file, and its size; baseline: `lakecrew cost report --period
   week` alone (the report contains it), each in its own process, median of `--repeats`.

    .venv/bin/python -m benchmarks.bench_web [--findings 100000] [--requests 200]
        [--demo demo-estate] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import child_main, measure

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
SEVERITIES = ("critical", "warning", "info")
RULES = [f"bench.rule_{i:02d}" for i in range(40)]
PASSWORD = "benchmark passphrase 1"


def _project(root: Path, n: int) -> list[str]:
    """A starter project whose ledger holds `n` findings over its workspaces."""
    from lakecrew.faces.web.accounts import Accounts, accounts_path
    from lakecrew.ports.clock import FixedClock
    from lakecrew.ports.ledger import FindingRow
    from lakecrew.services.estate.starter import write_starter
    from lakecrew.wiring.context import Context

    write_starter(root, force=False)
    rng = random.Random(7)
    with Context.open(root, writable=True, clock=FixedClock(NOW)) as lc:
        names = lc.config.names()
        owners = [f"owner{i}@bench.example" for i in range(60)]
        rows = [
            FindingRow(
                fingerprint=f"{i:032x}",
                workspace=rng.choice(names),
                rule_id=rng.choice(RULES),
                severity=rng.choice(SEVERITIES),
                resource_type="clusters",
                resource_id=f"0101-000000-{i:08d}",
                resource_name=f"cluster-{i}",
                owner=rng.choice(owners),
                owner_source="tag",
                evidence_json='{"autotermination_minutes": 0, "limit": 60}',
                status=rng.choice(("open", "open", "open", "resolved", "exempted")),
                first_seen=NOW - timedelta(days=rng.randint(1, 90)),
                last_seen=NOW - timedelta(hours=rng.randint(0, 48)),
                resolved_at=None,
                sweep_id="bench",
            )
            for i in range(n)
        ]
        lc.ledger.put_findings(rows)
    accounts = Accounts(accounts_path(root))
    accounts.add("bench", PASSWORD, "viewer")
    accounts.close()
    return names


def _queries(names: list[str], n: int) -> list[dict[str, Any]]:
    rng = random.Random(11)
    out = []
    for _ in range(n):
        q: dict[str, Any] = {"page": rng.randint(1, 20)}
        for key, choices in (
            ("workspace", names),
            ("severity", SEVERITIES),
            ("rule", RULES),
            ("status", ("open", "resolved")),
        ):
            if rng.random() < 0.5:
                q[key] = rng.choice(choices)
        out.append(q)
    return out


def _query_args(q: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in q.items() if k in ("workspace", "rule", "severity", "status", "page")}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def findings_page(args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from lakecrew.faces.web.app import WebConfig, create_app
    from lakecrew.faces.web.views import FindingQuery, sorted_findings
    from lakecrew.faces.web.views import findings_page as page_of_rows
    from lakecrew.ports.clock import FixedClock
    from lakecrew.testing.web import running
    from lakecrew.wiring.context import Context

    n, requests = int(args["findings"]), int(args["requests"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        names = _project(root, n)
        queries = _queries(names, requests)
        with Context.open(root, clock=FixedClock(NOW)) as lc:  # the CLI path, per call
            cli = []
            for q in queries[:5]:
                t0 = time.perf_counter()
                lc.crew.findings(q.get("workspace"), q.get("status"), q.get("rule"))
                cli.append(time.perf_counter() - t0)
            # the previous server path: every finding in memory, filtered per request in Python
            every = sorted_findings(lc.ledger.findings())
            memory = []
            for q in queries[:20]:
                t0 = time.perf_counter()
                page_of_rows(every, FindingQuery(**_query_args(q)), lc.pack)
                memory.append(time.perf_counter() - t0)
        app = create_app(WebConfig(root, clock=FixedClock(NOW)))
        with running(app) as base, httpx.Client(base_url=base, timeout=120) as client:
            form = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            client.post(
                "/login",
                data={"username": "bench", "password": PASSWORD, "csrf_token": token[1]},
            )
            t0 = time.perf_counter()
            assert client.get("/findings").status_code == 200
            cold = time.perf_counter() - t0
            timings: dict[str, list[float]] = {"html": [], "api": []}
            rows = 0
            for q in queries:
                for kind, path in (("html", "/findings"), ("api", "/api/findings")):
                    t0 = time.perf_counter()
                    r = client.get(path, params=q)
                    timings[kind].append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text[:200]
                    if kind == "api":
                        rows += len(r.json()["items"])
            estate = []  # the estate page: open counts per workspace by the ledger's SQL
            for _ in range(20):
                t0 = time.perf_counter()
                assert client.get("/").status_code == 200
                estate.append(time.perf_counter() - t0)
        app.state.dashboard.close()
    ms = {k: [v * 1000 for v in vals] for k, vals in timings.items()}
    cli_ms = statistics.median(cli) * 1000
    memory_ms = statistics.median(memory) * 1000
    return {
        "findings": n,
        "requests": requests,
        "rows_returned": rows,
        "cold_first_page_ms": round(cold * 1000),
        "html_p50_ms": round(statistics.median(ms["html"]), 1),
        "html_p95_ms": round(_pct(ms["html"], 0.95), 1),
        "api_p50_ms": round(statistics.median(ms["api"]), 1),
        "api_p95_ms": round(_pct(ms["api"], 0.95), 1),
        "cli_path_p50_ms": round(cli_ms, 1),
        "ratio_html_p50_vs_cli_path": round(statistics.median(ms["html"]) / cli_ms, 3),
        "python_filter_p50_ms": round(memory_ms, 1),
        "estate_page_p50_ms": round(statistics.median(estate) * 1000, 1),
        "ratio_api_p50_vs_python_filter": round(statistics.median(ms["api"]) / memory_ms, 3),
    }


def report(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.faces.web.render import report_html
    from lakecrew.faces.web.views import weekly
    from lakecrew.wiring.context import Context

    t0 = time.perf_counter()
    with Context.open(Path(args["demo"])) as lc:
        data = weekly(lc)
    html = report_html(data)
    return {"seconds": time.perf_counter() - t0, "bytes": len(html.encode("utf-8"))}


def cost_review(args: dict[str, Any]) -> dict[str, Any]:
    from lakecrew.faces.web.views_sections import finops
    from lakecrew.wiring.context import Context

    t0 = time.perf_counter()
    with Context.open(Path(args["demo"])) as lc:
        finops(lc)
    return {"seconds": time.perf_counter() - t0}


STEPS = {"findings_page": findings_page, "report": report, "cost_review": cost_review}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--demo", default="demo-estate")
    ap.add_argument("--repeats", type=int, default=3)
    opts = ap.parse_args()
    page = measure(
        "bench_web",
        "findings_page",
        {"findings": opts.findings, "requests": opts.requests},
        repeats=1,
        name=f"findings page over {opts.findings:,} findings",
    )
    print(f"{page.name}: peak {page.peak:.0f} MiB")
    for key, value in page.extra.items():
        print(f"  {key}: {value}")
    if not (Path(opts.demo) / "lakecrew.yaml").exists():
        print(f"no demo estate at {opts.demo}: run `lakecrew demo --project {opts.demo}` first")
        return
    args = {"demo": opts.demo}
    rep = measure("bench_web", "report", args, repeats=opts.repeats, name="report --html")
    base = measure("bench_web", "cost_review", args, repeats=opts.repeats, name="cost report")
    print(
        f"report --html: {rep.median_s:.2f} s {[round(s, 2) for s in rep.seconds]}, "
        f"{rep.extra['bytes']:,} bytes, peak {rep.peak:.0f} MiB; cost review alone "
        f"{base.median_s:.2f} s {[round(s, 2) for s in base.seconds]} (ratio "
        f"{rep.median_s / base.median_s:.2f}), peak {base.peak:.0f} MiB"
    )


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        child_main(STEPS)
    else:
        main()
