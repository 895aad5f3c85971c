"""Tiny inline-SVG charts for the admin analytics page (no JavaScript, no CDN)."""
from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe


def bar_chart(points: list[tuple[str, int]], *, width: int = 720, height: int = 180,
              color: str = "#2563eb", title: str = "") -> SafeString:
    if not points:
        return mark_safe("<p>No data.</p>")
    top = max(value for _, value in points) or 1
    gap, left, bottom = 2, 30, 22
    bar_width = max(1.0, (width - left) / len(points) - gap)
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = (height - bottom - 10) * value / top
        x = left + index * (bar_width + gap)
        y = height - bottom - bar_height
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bar_height:.1f}" '
                    f'fill="{escape(color)}"><title>{escape(label)}: {value}</title></rect>')
    first, last = escape(points[0][0]), escape(points[-1][0])
    svg = (f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
           f'style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">'
           f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>'
           f'<text x="0" y="14" font-size="11">{top}</text><text x="0" y="{height - bottom}" font-size="11">0</text>'
           + "".join(bars) +
           f'<text x="{left}" y="{height - 6}" font-size="11">{first}</text>'
           f'<text x="{width}" y="{height - 6}" font-size="11" text-anchor="end">{last}</text></svg>')
    return mark_safe(svg)


def ratio_bar(parts: list[tuple[str, int, str]], *, width: int = 720, height: int = 24) -> SafeString:
    total = sum(value for _, value, _ in parts)
    if not total:
        return mark_safe("<p>No feedback yet.</p>")
    x, rects = 0.0, []
    for label, value, color in parts:
        w = width * value / total
        rects.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{escape(color)}">'
                     f'<title>{escape(label)}: {value}</title></rect>')
        x += w
    return mark_safe(f'<svg role="img" aria-label="feedback" viewBox="0 0 {width} {height}" width="100%" '
                     f'style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">{"".join(rects)}</svg>')
