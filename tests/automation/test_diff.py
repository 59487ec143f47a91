from automation.diff import side_by_side, stats
from automation.highlight import highlight_yaml
from automation.services.playbooks import change_summary, task_names

OLD = "".join(f"line {i}\n" for i in range(30))


def kinds(rows):
    return [r.kind for r in rows]


def test_identical_texts_fold_into_one_row():
    rows = side_by_side(OLD, OLD)
    assert kinds(rows) == ["fold"] and rows[0].folded == 30


def test_changes_keep_three_lines_of_context_and_fold_the_rest():
    new = OLD.replace("line 15\n", "line fifteen\n")
    rows = side_by_side(OLD, new)
    assert kinds(rows) == ["fold"] + ["same"] * 3 + ["change"] + ["same"] * 3 + ["fold"]
    change = rows[4]
    assert (change.left_no, change.left, change.right_no, change.right) == (
        16,
        "line 15",
        16,
        "line fifteen",
    )
    assert rows[0].folded == 12 and rows[-1].folded == 11


def test_deletions_and_insertions_are_numbered_on_their_own_side():
    new = OLD.replace("line 3\n", "").replace("line 20\n", "line 20\nextra a\nextra b\n")
    rows = [r for r in side_by_side(OLD, new) if r.kind != "same" and r.kind != "fold"]
    assert [(r.kind, r.left_no, r.right_no) for r in rows] == [
        ("del", 4, None),
        ("add", None, 21),
        ("add", None, 22),
    ]
    assert stats(side_by_side(OLD, new)) == (2, 1)


def test_diff_from_nothing_is_all_additions():
    rows = side_by_side("", "a\nb\n")
    assert kinds(rows) == ["add", "add"]


def test_highlighter_escapes_every_piece():
    html = highlight_yaml('- name: "<img src=x onerror=alert(1)>"  # <b>\n  hosts: all\n')
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img" in html and '<span class="y-key">name</span>' in html


def test_task_names_walk_blocks_and_handlers():
    text = """
- hosts: all
  pre_tasks: [{name: Pre}]
  tasks:
    - name: Outer
      block:
        - name: Inner
  handlers:
    - name: Restart
"""
    assert task_names(text) == ["Pre", "Outer", "Inner", "Restart"]
    assert task_names("not: [valid") == []


def test_change_summary():
    old = "- hosts: all\n  tasks:\n    - name: A\n      debug: {}\n"
    new = old + "    - name: Install nginx\n      debug: {}\n"
    assert change_summary(old, new) == "+2 -0 lines; tasks added: Install nginx"
