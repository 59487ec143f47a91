"""Console lines as people see them: ANSI colours as HTML on the page, plain text in the download
and in error messages. No database access and no ansible-runner here: the web process renders
with it (the rows come from automation/selectors/jobs.py), and the worker uses ``console_text``
to classify lines and write error messages.

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

TERMINAL_ESCAPES = re.compile(
    r"(\x1b\[[0-9;:]*m)"  # 1: SGR colours and styles, the only sequence kept
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (hyperlinks, titles) up to BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # any other CSI: cursor movement, erase, modes
    r"|\x1b[ -/]*[0-~]"  # two-byte escapes: ESC 7, ESC c, ESC ( B ...
    r"|\x1b"  # a lone ESC
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"  # C0 controls but tab, DEL, C1 controls (8-bit CSI)
)


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


def plain_text(content):
    """Console text as it is downloaded: no colours, no escapes."""
    return console_text(content, colours=False)
