"""Reading a job's console: line windows, ANSI colours as HTML, plain-text download.

Console lines are stored as the playbook printed them, so a task can put any terminal escape
sequence in the output. Only colours (SGR, ``ESC[...m``) are kept, and only for the page; every
other sequence is removed when a line is shown or downloaded, which covers rows stored before
this rule too. OSC 8 would otherwise become a link on the page (ansi2html renders it as
``<a href>``) and a clickable link in a terminal; OSC titles, cursor movement and carriage
returns can rewrite what a person sees in a terminal that prints the download.
"""

import re

from ansi2html import Ansi2HTMLConverter
from django.utils.safestring import mark_safe

from automation.models import JobLog

TERMINAL_ESCAPES = re.compile(
    r"(\x1b\[[0-9;:]*m)"  # 1: SGR colours and styles, the only sequence kept
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (hyperlinks, titles) up to BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # any other CSI: cursor movement, erase, modes
    r"|\x1b[ -/]*[0-~]"  # two-byte escapes: ESC 7, ESC c, ESC ( B ...
    r"|\x1b"  # a lone ESC
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"  # C0 controls but tab, DEL, C1 controls (8-bit CSI)
)

WINDOW = 1000
# Largest line number a cursor may name (the column is a 32-bit positive integer).
MAX_LINE = 2**31 - 1
DOWNLOAD_CHUNK = 5000


def console_text(content, *, colours=True):
    """``content`` with every terminal escape sequence and control character removed except
    tab and, when ``colours``, SGR colour codes."""
    return TERMINAL_ESCAPES.sub(lambda match: match[1] if colours and match[1] else "", content)


def line_renderer():
    """A function turning one console line into HTML: ansi2html escapes the text and turns
    colours into spans. Build one per request: a converter costs 2.4 ms to create and 0.01 ms
    to use, and holds state while converting (not shared across threads)."""
    converter = Ansi2HTMLConverter(inline=True)
    return lambda content: mark_safe(  # noqa: S308 - ansi2html escapes the text
        converter.convert(console_text(content), full=False)
    )


def lines(job, *, after=None, before=None, start=None, limit=WINDOW):
    """A window of at most ``limit`` lines, in order, by the (job, line_number) index:
    after a line, before a line, from a line, or (none given) the last ones."""
    rows = JobLog.objects.filter(job=job).only("line_number", "content", "log_level")
    if after is not None:
        window = list(rows.filter(line_number__gt=after).order_by("line_number")[:limit])
    elif start is not None:
        window = list(rows.filter(line_number__gte=start).order_by("line_number")[:limit])
    elif before is not None:
        window = list(rows.filter(line_number__lt=before).order_by("-line_number")[:limit])[::-1]
    else:
        window = list(rows.order_by("-line_number")[:limit])[::-1]
    render = line_renderer()
    for line in window:
        line.html = render(line.content)
    return window


def plain_text(job):
    """The whole console as text without colour codes, read in keyset chunks (memory stays
    flat; MySQL drivers buffer whole result sets, so no single huge query)."""
    last = 0
    while True:
        chunk = list(
            JobLog.objects.filter(job=job, line_number__gt=last)
            .order_by("line_number")
            .values_list("line_number", "content")[:DOWNLOAD_CHUNK]
        )
        if not chunk:
            return
        yield "".join(console_text(content, colours=False) + "\n" for _, content in chunk)
        last = chunk[-1][0]
