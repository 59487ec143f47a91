"""Side-by-side line diffs with diff-match-patch, folded for reading.

Rows are plain data (kinds, numbers and raw text); the template escapes the text, so no markup
from a playbook can reach the page.
"""

from dataclasses import dataclass

from diff_match_patch import diff_match_patch

CONTEXT = 3


@dataclass
class Row:
    kind: str  # "same", "change", "del", "add", "fold"
    left_no: int | None = None
    left: str = ""
    right_no: int | None = None
    right: str = ""
    folded: int = 0


def line_diff(old, new):
    """diff-match-patch in line mode: [(op, [lines])] with op -1 delete, 0 equal, 1 insert."""
    dmp = diff_match_patch()
    chars_old, chars_new, lines = dmp.diff_linesToChars(old, new)
    diffs = dmp.diff_main(chars_old, chars_new, False)
    dmp.diff_charsToLines(diffs, lines)
    return [(op, text.splitlines()) for op, text in diffs]


def side_by_side(old, new, context=CONTEXT):
    """Rows for a two-column diff: deletions next to the insertions that replace them, and
    unchanged runs longer than 2*context folded into one row."""
    rows, left_no, right_no = [], 1, 1
    pending_del = []
    for op, lines in line_diff(old, new) + [(0, [])]:
        if op == -1:
            pending_del.extend(lines)
            continue
        if op == 1:
            for i, line in enumerate(lines):
                if i < len(pending_del):
                    rows.append(Row("change", left_no, pending_del[i], right_no, line))
                    left_no += 1
                else:
                    rows.append(Row("add", None, "", right_no, line))
                right_no += 1
            for line in pending_del[len(lines) :]:
                rows.append(Row("del", left_no, line))
                left_no += 1
            pending_del = []
            continue
        for line in pending_del:
            rows.append(Row("del", left_no, line))
            left_no += 1
        pending_del = []
        for line in lines:
            rows.append(Row("same", left_no, line, right_no, line))
            left_no += 1
            right_no += 1
    return fold(rows, context)


def fold(rows, context=CONTEXT):
    """Replace each long run of unchanged rows by its edges and one "fold" row."""
    out, run = [], []

    def flush(at_start, at_end):
        keep_head = 0 if at_start else context
        keep_tail = 0 if at_end else context
        if len(run) > keep_head + keep_tail + 1:
            out.extend(run[:keep_head])
            out.append(Row("fold", folded=len(run) - keep_head - keep_tail))
            out.extend(run[len(run) - keep_tail :] if keep_tail else [])
        else:
            out.extend(run)

    for row in rows:
        if row.kind == "same":
            run.append(row)
            continue
        flush(at_start=not out, at_end=False)
        run = []
        out.append(row)
    flush(at_start=not out, at_end=True)
    return out


def stats(rows):
    added = sum(1 for r in rows if r.kind in ("add", "change"))
    removed = sum(1 for r in rows if r.kind in ("del", "change"))
    return added, removed
