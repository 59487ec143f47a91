"""Server-side SVG charts of a server's metrics history (no JavaScript, no CDN)."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from inventory.selectors import server_metric_samples

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
WIDTH, HEIGHT, MAX_POINTS = 640, 160, 288
SERIES = (("cpu", "CPU", "#2557d6"), ("memory", "Memory", "#b7791f"), ("disk", "Disk", "#178a4c"))


@dataclass
class Chart:
    range: str
    start: object
    end: object
    samples: int
    lines: list  # [(label, colour, "x,y x,y ...")]


def metrics_chart(server, range_name="24h", *, now=None):
    """Average the samples of the range into at most MAX_POINTS buckets and scale them to
    the SVG box. One indexed query on (server, collected_at)."""
    range_name = range_name if range_name in RANGES else "24h"
    end = now or timezone.now()
    start = end - RANGES[range_name]
    rows = server_metric_samples(server=server, start=start, end=end)
    span = (end - start).total_seconds()
    buckets = {}
    count = 0
    for collected_at, *values in rows.iterator(chunk_size=2000):
        count += 1
        index = min(int((collected_at - start).total_seconds() / span * MAX_POINTS), MAX_POINTS - 1)
        bucket = buckets.setdefault(index, [[], [], []])
        for series, value in zip(bucket, values, strict=True):
            if value is not None:
                series.append(value)
    lines = []
    for position, (_, label, colour) in enumerate(SERIES):
        points = []
        for index in sorted(buckets):
            values = buckets[index][position]
            if values:
                x = index / (MAX_POINTS - 1) * WIDTH
                y = HEIGHT - (sum(values) / len(values)) / 100 * HEIGHT
                points.append(f"{x:.1f},{y:.1f}")
        lines.append((label, colour, " ".join(points)))
    return Chart(range=range_name, start=start, end=end, samples=count, lines=lines)
