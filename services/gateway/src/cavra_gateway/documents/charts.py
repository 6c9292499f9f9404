"""Inline SVG charts built on the server (no JavaScript): every label is escaped, every number bounded.

A chart is a list of rows, each with a label and one or more (series, value) segments drawn as a
horizontal stacked bar scaled to the largest row total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Final

from markupsafe import Markup

MAX_ROWS: Final = 31
"""Rows in one chart (a month of days, or the first providers)."""
COLORS: Final = {
    "closed": "#2e7d32",
    "closures": "#1565c0",
    "open": "#f9a825",
    "breached": "#c62828",
    "delivered": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#757575",
}
LABEL_WIDTH: Final = 150
BAR_WIDTH: Final = 360
ROW_HEIGHT: Final = 22


@dataclass(frozen=True)
class Row:
    label: str
    segments: Sequence[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(value for _, value in self.segments)


def _count(value: Any) -> int:
    return max(0, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def stacked_bars(title: str, rows: Sequence[Row]) -> Markup:
    """One chart: a row per label, its segments stacked left to right, with a legend."""
    shown = list(rows)[:MAX_ROWS]
    series = list(dict.fromkeys(name for row in shown for name, _ in row.segments))
    scale = max([row.total for row in shown] + [1])
    height = ROW_HEIGHT * (len(shown) + 2) + 10
    width = LABEL_WIDTH + BAR_WIDTH + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for index, row in enumerate(shown):
        y = ROW_HEIGHT * index + 4
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(row.label[:40])}</text>')
        x = float(LABEL_WIDTH)
        for name, value in row.segments:
            length = BAR_WIDTH * value / scale
            if length > 0:
                color = COLORS.get(name, "#455a64")
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="16" fill="{color}">'
                    f"<title>{escape(name)}: {value}</title></rect>"
                )
            x += length
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}" font-size="11">{row.total}</text>')
    if not shown:
        parts.append('<text x="0" y="16" font-size="11">no data</text>')
    legend_y = ROW_HEIGHT * (len(shown) or 1) + 16
    x = 0
    for name in series:
        color = COLORS.get(name, "#455a64")
        parts.append(f'<rect x="{x}" y="{legend_y}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y + 9}" font-size="10">{escape(name)}</text>')
        x += 14 + 8 * len(name) + 12
    parts.append("</svg>")
    return Markup("".join(parts))


def closure_trend(trends: Sequence[Mapping[str, Any]]) -> Markup:
    """Closures per day, oldest first."""
    days = sorted(trends, key=lambda day: str(day.get("date", "")))[-MAX_ROWS:]
    rows = [
        Row(str(day.get("date", "unknown")), [("closures", _count(day.get("closure_count")))]) for day in days
    ]
    return stacked_bars("Closures per day", rows)


def slo_state(providers: Sequence[Mapping[str, Any]]) -> Markup:
    """Per provider: closed, open (within the SLO) and breached recoveries."""
    rows = []
    for summary in providers:
        breached = _count(summary.get("slo_breached_count"))
        opened = _count(summary.get("open_recovery_count"))
        tracked = _count(summary.get("recovery_playbook_count"))
        rows.append(
            Row(
                str(summary.get("provider", "")),
                [
                    ("closed", max(0, tracked - opened)),
                    ("open", max(0, opened - breached)),
                    ("breached", breached),
                ],
            )
        )
    return stacked_bars("Recovery SLO state per provider", rows)


def execution_outcomes(status_counts: Mapping[str, Any]) -> Markup:
    """Retry executions by outcome."""
    rows = [
        Row(str(status), [(str(status), _count(count))]) for status, count in sorted(status_counts.items())
    ]
    return stacked_bars("Retry execution outcomes", rows)
