"""A small server-side YAML highlighter: each piece is escaped, then wrapped in a span."""

import re

from django.utils.html import escape
from django.utils.safestring import mark_safe

LINE = re.compile(
    r"^(?P<indent>\s*)(?P<dash>-\s+)?(?:(?P<key>[^\s#:'\"][^:#]*?):(?=\s|$))?(?P<rest>.*)$"
)


def _rest(rest):
    """Value part of a line: a trailing comment and quoted strings get their own classes."""
    comment = ""
    match = re.search(r"(^|\s)#.*$", rest)
    if (
        match
        and rest.count('"', 0, match.start()) % 2 == 0
        and rest.count("'", 0, match.start()) % 2 == 0
    ):
        comment, rest = rest[match.start() :], rest[: match.start()]
    value = escape(rest)
    stripped = rest.strip()
    if stripped[:1] in ("'", '"') or stripped.startswith("{{"):
        value = f'<span class="y-str">{value}</span>'
    if comment:
        value += f'<span class="y-com">{escape(comment)}</span>'
    return value


def highlight_yaml(text):
    """HTML for ``text`` with keys, list dashes, strings and comments marked."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            out.append(f'<span class="y-com">{escape(line)}</span>')
            continue
        m = LINE.match(line)
        html = escape(m["indent"])
        if m["dash"]:
            html += f'<span class="y-dash">{escape(m["dash"])}</span>'
        if m["key"] is not None:
            html += f'<span class="y-key">{escape(m["key"])}</span>:'
        html += _rest(m["rest"])
        out.append(html)
    return mark_safe("\n".join(out))  # noqa: S308 - every piece above is escaped
