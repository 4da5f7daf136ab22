"""The store's report as Markdown or a self-contained HTML page with inline SVG charts.

Input is the JSON-ready data of `store.report`; nothing is fetched (no scripts, fonts or
images from the network), every value is escaped, output is deterministic.
"""

from __future__ import annotations

import html
from typing import Any

from playbook_engine.render.incidents import duration
from playbook_engine.render.markdown import md

_COLUMNS = (
    "Incidents",
    "MTTA",
    "MTTR",
    "Respond SLA",
    "Resolve SLA",
    "Escalated",
    "Reopened",
    "First-contact resolution",
)


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _sla(item: dict[str, Any]) -> str:
    if not item["judged"]:
        return "-"
    return f"{_pct(item['rate'])} ({item['met']}/{item['judged']})"


def _cells(m: dict[str, Any]) -> list[str]:
    return [
        str(m["incidents"]),
        duration(m["mttaSeconds"]) or "-",
        duration(m["mttrSeconds"]) or "-",
        _sla(m["respond"]),
        _sla(m["resolve"]),
        _pct(m["escalationRate"]),
        _pct(m["reopenedRate"]),
        _pct(m["firstContactResolution"]),
    ]


def _sections(report: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    return [
        ("By priority (peak)", "priority", report["byPriority"]),
        ("By playbook", "playbook", report["byPlaybook"]),
        ("By week (starting Monday, UTC)", "week", report["byWeek"]),
    ]


def report_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    out = [
        f"# Incident report {report['since']} – {report['until']}",
        "",
        "Incidents that started in the period. MTTA: start to acknowledgement; MTTR: start to "
        "resolution; SLA: met of judged (deadline met or passed), by the peak priority's "
        "deadlines; escalated: paged past the first tier; first-contact resolution: resolved "
        "without paging past the first tier.",
        "",
        "## Overall",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + " ---: |" * len(_COLUMNS),
        "| " + " | ".join(_cells(report["overall"])) + " |",
    ]
    for title, key, rows in _sections(report):
        out += ["", f"## {title}", ""]
        if not rows:
            out.append("No incidents.")
            continue
        out.append(f"| {key.title()} | " + " | ".join(_COLUMNS) + " |")
        out.append("| --- |" + " ---: |" * len(_COLUMNS))
        for row in rows:
            out.append(f"| {md(str(row[key]))} | " + " | ".join(_cells(row)) + " |")
    return "\n".join(out) + "\n"


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{padding:.3em .7em;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}
figure{display:inline-block;margin:0 2em 1.5em 0;vertical-align:top}figcaption{font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#333}.note{color:#555;max-width:60em}
"""


def report_html(report: dict[str, Any]) -> str:
    """The report as one HTML page with inline SVG charts (MTTA and MTTR by week, SLA
    compliance by priority, incidents by week)."""
    e = html.escape
    weeks = report["byWeek"]
    title = f"Incident report {report['since']} – {report['until']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        '<p class="note">Incidents that started in the period. MTTA: start to acknowledgement; '
        "MTTR: start to resolution; SLA: met of judged, by the peak priority's deadlines; "
        "escalated: paged past the first tier; first-contact resolution: resolved without "
        "paging past the first tier.</p>",
        "<h2>Charts</h2>",
        _bars(
            "MTTR by week",
            [(w["week"], (w["mttrSeconds"] or 0) / 3600) for w in weeks],
            "hours",
            "#c0504d",
        ),
        _bars(
            "MTTA by week",
            [(w["week"], (w["mttaSeconds"] or 0) / 60) for w in weeks],
            "minutes",
            "#4f81bd",
        ),
        _bars("Incidents by week", [(w["week"], float(w["incidents"])) for w in weeks], "", "#777"),
        _bars(
            "Respond SLA met by priority",
            [(p["priority"], 100 * (p["respond"]["rate"] or 0)) for p in report["byPriority"]],
            "%",
            "#9bbb59",
            top=100.0,
        ),
        _bars(
            "Resolve SLA met by priority",
            [(p["priority"], 100 * (p["resolve"]["rate"] or 0)) for p in report["byPriority"]],
            "%",
            "#8064a2",
            top=100.0,
        ),
        "<h2>Overall</h2>",
        _table("", "", [report["overall"]]),
    ]
    for heading, key, rows in _sections(report):
        parts.append(f"<h2>{e(heading)}</h2>")
        parts.append(_table(key.title(), key, rows) if rows else "<p>No incidents.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(label: str, key: str, rows: list[dict[str, Any]]) -> str:
    e = html.escape
    head = (f"<th>{e(label)}</th>" if key else "") + "".join(
        f'<th class="n">{e(c)}</th>' for c in _COLUMNS
    )
    body = []
    for row in rows:
        first = f"<td>{e(str(row[key]))}</td>" if key else ""
        cells = "".join(f'<td class="n">{e(c)}</td>' for c in _cells(row))
        body.append(f"<tr>{first}{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _bars(
    title: str, points: list[tuple[str, float]], unit: str, color: str, top: float | None = None
) -> str:
    """A bar chart as inline SVG (labels under the bars, values above them)."""
    e = html.escape
    if not points:
        return f"<figure><figcaption>{e(title)}</figcaption><p>No data.</p></figure>"
    width, height, left, bottom = max(240, 46 * len(points) + 50), 180, 40, 40
    peak = top if top is not None else max((v for _, v in points), default=0.0) or 1.0
    step = (width - left - 10) / len(points)
    plot = height - bottom - 16
    items = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" '
        'stroke="#999"/>',
        f'<text x="2" y="12">{e(_number(peak))} {e(unit)}</text>',
    ]
    for index, (label, value) in enumerate(points):
        bar = 0.0 if peak <= 0 else plot * min(value, peak) / peak
        x = left + index * step + step * 0.15
        y = height - bottom - bar
        items.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{bar:.1f}" '
            f'fill="{color}"><title>{e(label)}: {e(_number(value))} {e(unit)}</title></rect>'
        )
        middle = x + step * 0.35
        items.append(
            f'<text x="{middle:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
            f"{e(_number(value))}</text>"
        )
        items.append(
            f'<text x="{middle:.1f}" y="{height - bottom + 14}" text-anchor="end" '
            f'transform="rotate(-35 {middle:.1f} {height - bottom + 14})">{e(label[:16])}</text>'
        )
    items.append("</svg>")
    return f"<figure><figcaption>{e(title)}</figcaption>{''.join(items)}</figure>"


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"
