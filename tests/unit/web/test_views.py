"""View-model pieces that need no project: diffs, pagination, filters, charts, the report
template's escaping."""

from __future__ import annotations

from datetime import UTC, datetime

from lakecrew.faces.web import charts
from lakecrew.faces.web.views import FindingQuery, diff, findings_page
from lakecrew.ports.ledger import FindingRow

T = datetime(2026, 12, 4, 10, tzinfo=UTC)


def _row(i: int, **kw: object) -> FindingRow:
    data: dict[str, object] = {
        "fingerprint": f"{i:04d}", "workspace": "ws-a", "rule_id": "cluster.idle",
        "severity": "warning", "resource_type": "clusters", "resource_id": f"c-{i}",
        "resource_name": f"n-{i}", "owner": "o@x.example", "owner_source": "tag",
        "evidence_json": '{"token": "dapi0123456789abcdef0123456789abcdef"}',
        "status": "open", "first_seen": T, "last_seen": T, "resolved_at": None, "sweep_id": "s",
    }  # fmt: skip
    data.update(kw)
    return FindingRow(**data)  # type: ignore[arg-type]


def test_diff_lists_changed_fields_and_redacts_secrets() -> None:
    before = {"custom_tags": {"a": "1"}, "state": "RUNNING", "spark_env_vars": {"X": "y"}}
    secret = "dapi0123456789abcdef0123456789abcdef"
    after = {"custom_tags": {"a": "1", "owner": "o"}, "state": "TERMINATED",
             "spark_env_vars": {"X": "y"}, "token": secret}  # fmt: skip
    rows = {d["path"]: (d["before"], d["after"]) for d in diff(before, after)}
    assert rows.keys() == {"custom_tags.owner", "state", "token"}
    assert rows["state"] == ("RUNNING", "TERMINATED")
    assert "dapi" not in str(rows["token"])


def test_findings_page_filters_paginates_and_keeps_choices() -> None:
    rows = [_row(i, severity="critical" if i % 3 == 0 else "warning") for i in range(10)]
    rows.append(_row(99, workspace="ws-b", rule_id="job.no_retries"))
    page = findings_page(rows, FindingQuery(severity="critical", per_page=2, page=2))
    assert page["total"] == 4 and page["pages"] == 2 and page["page"] == 2
    assert [f["fingerprint"] for f in page["items"]] == ["0006", "0009"]
    assert page["choices"]["workspace"] == ["ws-a", "ws-b"]  # not narrowed by the filter
    assert "dapi" not in str(page["items"])  # evidence redacted
    past = findings_page(rows, FindingQuery(page=99, per_page=5))
    assert past["page"] == past["pages"] == 3


def test_charts_escape_labels_and_describe_values() -> None:
    svg = charts.bars([("<script>alert(1)</script>", 3.0), ("b", 1.5)], "t<i>tle")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t&lt;i&gt;tle" in svg
    assert svg.count("<rect") == 2 and "1.5" in svg
    assert "no data" in charts.line([], "empty")
    assert svg.startswith('<svg class="chart" role="img"')
