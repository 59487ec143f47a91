"""Small server-side SVG charts for the analytics page: no JavaScript, no CDN.

Every function returns markup built with ``format_html`` (all text escaped), marked safe only
because it is assembled from escaped parts.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.formatting import duration

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STATUS_COLOURS = (("success", "#178a4c"), ("failed", "#c53030"), ("cancelled", "#b7791f"))


def status_bar(entry, width=100, height=12):
    """One stacked bar: success, failed and cancelled runs of ``entry`` (a dict with those keys
    and ``runs``), proportional to its own total."""
    total = entry["runs"]
    if not total:
        return ""
    x = 0.0
    parts = []
    for status, colour in STATUS_COLOURS:
        w = width * entry[status] / total
        if w:
            parts.append((f"{x:.1f}", f"{w:.1f}", height, colour, entry[status], status))
        x += w
    rects = format_html_join(
        "",
        '<rect x="{}" y="0" width="{}" height="{}" fill="{}"><title>{} {}</title></rect>',
        parts,
    )
    return format_html(
        '<svg class="sbar" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="runs by status">{}</svg>',
        width,
        height,
        width,
        height,
        rects,
    )


def count_bar(value, maximum, width=120, height=12, colour="#2557d6"):
    """A single horizontal bar, ``value`` out of ``maximum``."""
    w = 0 if not maximum else width * value / maximum
    return format_html(
        '<svg class="sbar" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<rect x="0" y="0" width="{}" height="{}" fill="{}"/></svg>',
        width,
        height,
        width,
        height,
        value,
        f"{w:.1f}",
        height,
        colour,
    )


def duration_chart(series, width=640, height=120):
    """Median (solid) and p95 (dashed) duration per day: ``series`` is [(day, runs, median,
    p95), ...]. Days without runs leave gaps."""
    top = max((p95 for _, _, _, p95 in series if p95 is not None), default=0)
    if not top:
        return format_html('<p class="muted">{}</p>', "No timed runs in this period.")
    step = width / max(len(series) - 1, 1)

    def y(value):
        return height - 4 - (height - 12) * value / top

    def polylines(index):
        runs, current = [], []
        for i, point in enumerate(series):
            if point[index] is None:
                if current:
                    runs.append(current)
                current = []
            else:
                current.append(f"{i * step:.1f},{y(point[index]):.1f}")
        if current:
            runs.append(current)
        return runs

    lines = []
    for index, css in ((3, "p95"), (2, "median")):
        for points in polylines(index):
            if len(points) == 1:  # a lone day: draw a dot
                cx, cy = points[0].split(",")
                lines.append(format_html('<circle class="{}" cx="{}" cy="{}" r="2"/>', css, cx, cy))
            else:
                lines.append(
                    format_html('<polyline class="{}" points="{}"/>', css, " ".join(points))
                )
    dots = format_html_join(
        "",
        '<rect x="{}" y="0" width="{}" height="{}" fill="transparent"><title>{}: {} runs, '
        "median {}, p95 {}</title></rect>",
        (
            (
                f"{max(i * step - step / 2, 0):.1f}",
                f"{step:.1f}",
                height,
                day.isoformat(),
                runs,
                duration(median),
                duration(p95),
            )
            for i, (day, runs, median, p95) in enumerate(series)
        ),
    )
    return format_html(
        '<svg class="chart dur" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" '
        'aria-label="median and p95 duration per day, up to {}">{}{}</svg>',
        width,
        height,
        duration(top),
        mark_safe("".join(lines)),  # noqa: S308 - each part built by format_html above
        dots,
    )


def heatmap_chart(grid, cell=22):
    """Weekday x hour grid of counts; darker is busier. Hover titles give the exact count."""
    peak = max((max(row) for row in grid), default=0)
    left, top = 36, 16
    cells = []
    for day, row in enumerate(grid):
        for hour, count in enumerate(row):
            opacity = 0.06 if not count else 0.15 + 0.85 * count / peak
            cells.append(
                (
                    left + hour * cell,
                    top + day * cell,
                    cell - 2,
                    cell - 2,
                    f"{opacity:.2f}",
                    WEEKDAYS[day],
                    f"{hour:02d}:00",
                    count,
                )
            )
    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#2557d6" fill-opacity="{}">'
        "<title>{} {}: {} runs</title></rect>",
        cells,
    )
    day_labels = format_html_join(
        "",
        '<text x="0" y="{}" class="lbl">{}</text>',
        ((top + d * cell + cell * 0.65, name) for d, name in enumerate(WEEKDAYS)),
    )
    hour_labels = format_html_join(
        "",
        '<text x="{}" y="11" class="lbl">{}</text>',
        ((left + h * cell + 2, f"{h:02d}") for h in range(0, 24, 3)),
    )
    width, height = left + 24 * cell, top + 7 * cell
    return format_html(
        '<svg class="heatmap" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="runs by weekday and hour, busiest {}">{}{}{}</svg>',
        width,
        height,
        width,
        height,
        peak,
        day_labels,
        hour_labels,
        rects,
    )
