"""Inline SVG charts for the dashboard and the single-file report: no script, no CDN, no image
file — the chart is part of the page, so it renders offline and under a strict CSP.

- `bars(rows, title)`: horizontal bars, one per (label, value), the value printed at its end;
- `line(points, title)`: one series over ordered x labels (daily cost, a compliance trend).

Every label is escaped (resource and project names are attacker-controlled); each chart is an
`<svg role="img">` with a `<title>` and a `<desc>` listing the values, for screen readers.
Colours: Okabe–Ito blue and vermillion (colour-blind safe), as the PNG cost charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

BLUE = "#0072B2"
RED = "#D55E00"
WIDTH = 640
ROW = 22
LABEL_W = 220
_ids = count(1)


def _num(value: float) -> str:
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:,.1f}M"
    if size >= 1e4:
        return f"{value / 1e3:,.1f}k"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def _short(label: str, size: int = 32) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def _svg(title: str, desc: str, height: int, body: str) -> Markup:
    n = next(_ids)
    return Markup(
        f'<svg class="chart" role="img" aria-labelledby="chart-t{n} chart-d{n}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def bars(rows: Sequence[tuple[str, float]], title: str, unit: str = "") -> Markup:
    """Horizontal bars; an empty chart says so in its text."""
    if not rows:
        return _svg(title, "no data", 30, '<text x="4" y="20">no data</text>')
    top = max((v for _, v in rows), default=0) or 1
    span = WIDTH - LABEL_W - 90
    parts = []
    for i, (label, value) in enumerate(rows):
        y = i * ROW + 4
        w = max(1, int(span * max(value, 0) / top))
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">{escape(_short(label))}</text>'
            f'<rect x="{LABEL_W}" y="{y}" width="{w}" height="{ROW - 6}" fill="{BLUE}"/>'
            f'<text x="{LABEL_W + w + 4}" y="{y + 14}">{escape(_num(value))}{escape(unit)}</text>'
        )
    desc = "; ".join(f"{label}: {_num(v)}{unit}" for label, v in rows)
    return _svg(title, desc, len(rows) * ROW + 8, "".join(parts))


def line(points: Sequence[tuple[str, float]], title: str, unit: str = "") -> Markup:
    """One series as a polyline with dots; first and last x labels and the max on the axis."""
    if not points:
        return _svg(title, "no data", 30, '<text x="4" y="20">no data</text>')
    height, pad, left = 180, 24, 60
    top = max(v for _, v in points) or 1
    step = (WIDTH - left - 10) / max(1, len(points) - 1)
    xy = [
        (left + i * step, height - pad - (height - 2 * pad) * max(v, 0) / top)
        for i, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{RED}"/>' for x, y in xy)
    axis = (
        f'<line x1="{left}" y1="{height - pad}" x2="{WIDTH - 10}" y2="{height - pad}" '
        f'stroke="#555"/><text x="{left - 4}" y="{pad + 4}" text-anchor="end">'
        f"{escape(_num(top))}{escape(unit)}</text>"
        f'<text x="{left}" y="{height - 6}">{escape(points[0][0])}</text>'
        f'<text x="{WIDTH - 10}" y="{height - 6}" text-anchor="end">{escape(points[-1][0])}</text>'
    )
    body = f'{axis}<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>{dots}'
    desc = "; ".join(f"{label}: {_num(v)}{unit}" for label, v in points)
    return _svg(title, desc, height, body)
