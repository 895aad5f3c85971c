"""The method comparison as a chart for the admin: held-out F1 per method with its 95 % interval,
the base model's F1 as a dashed line, and each method's trainable parameters and decode speed
beside its bar. Inline SVG, so the admin needs no script or static file for it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

ROW_HEIGHT = 26
LABEL_WIDTH = 110
PLOT_WIDTH = 360
NOTE_WIDTH = 260


def f1_chart(rows: Sequence[dict[str, Any]]) -> SafeString:
    """An SVG bar chart of the compared methods' held-out F1 (0 to 1); empty when none was evaluated."""
    scored = [row for row in rows if (row.get("adapter") or {}).get("f1") is not None]
    if not scored:
        return SafeString("")
    height = ROW_HEIGHT * len(scored) + 30

    def x(value: float) -> float:
        return round(LABEL_WIDTH + PLOT_WIDTH * min(max(value, 0.0), 1.0), 1)

    bars = format_html_join("", "{}", ((_bar(index, row, x),) for index, row in enumerate(scored)))
    base_f1 = (scored[0].get("base") or {}).get("f1")
    base_line = format_html(
        '<line x1="{}" x2="{}" y1="0" y2="{}" stroke="#555" stroke-dasharray="4 3"/>'
        '<text x="{}" y="{}" font-size="11" fill="#555">base {}</text>',
        x(base_f1), x(base_f1), height - 18, x(base_f1) + 3, height - 6, base_f1) if base_f1 is not None else ""
    axis = format_html_join("", '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#777">{}</text>',
                            ((x(tick), height - 20, tick) for tick in (0, 0.25, 0.5, 0.75, 1)))
    return format_html(
        '<svg role="img" aria-label="held-out F1 per method" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg" style="font-family: sans-serif">'
        '<title>Held-out F1 per method (95 % interval)</title>{}{}{}</svg>',
        LABEL_WIDTH + PLOT_WIDTH + NOTE_WIDTH, height, bars, base_line, axis)


def _bar(index: int, row: dict[str, Any], x) -> SafeString:
    adapter = row["adapter"]
    top = index * ROW_HEIGHT + 4
    middle = top + 9
    low, high = adapter.get("f1_interval") or (adapter["f1"], adapter["f1"])
    decode = (row.get("serving") or {}).get("decode_tokens_per_second")
    note = f"{row.get('trainable_parameters', 0):,} params" + (f", {decode} tok/s" if decode else "")
    return format_html(
        '<text x="0" y="{}" font-size="12">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="18" fill="#4a7ebb"><title>{}: F1 {}</title></rect>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#222"/>'
        '<text x="{}" y="{}" font-size="11" fill="#333">{} ({})</text>',
        middle + 4, row["method"], LABEL_WIDTH, top, round(x(adapter["f1"]) - LABEL_WIDTH, 1),
        row["method"], adapter["f1"], x(low), x(high), middle, middle,
        LABEL_WIDTH + PLOT_WIDTH + 8, middle + 4, adapter["f1"], note)
