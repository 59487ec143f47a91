"""Checks a playbook's text must pass before anything is stored.

In order: size, text (UTF-8, no NUL), YAML that parses (errors with line and column) and whose
aliases do not expand past a bound, a non-empty list of plays, then
``ansible-playbook --syntax-check`` in a throwaway directory.
Each failure is a ValidationError a person can act on.
"""

import re
import subprocess
import tempfile
from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError

from automation.runner import sandbox

PLAY_KEYS = {"hosts", "import_playbook", "ansible.builtin.import_playbook"}
SYNTAX_CHECK_TIMEOUT = 60
ORIGIN = re.compile(r"^Origin: (?P<path>.+?)(:\d+){1,2}\s*$")
# The lines of an excerpt: numbered source lines, the caret under the column, and notes.
EXCERPT_LINE = re.compile(r"^\s*(\d+ |\d+$|\^|\(source not shown)")
# Values YAML aliases (*name) may add to a playbook once expanded. Reusing a vars block or a
# task list adds hundreds; a "billion laughs" document of nine lines adds 10^9.
YAML_ALIAS_EXPANSION_MAX = 100_000


def decode_upload(data):
    """Text of an uploaded file's bytes; refuses binary and non-UTF-8 content."""
    if b"\x00" in data:
        raise ValidationError("The file is binary (it contains NUL bytes), not a YAML playbook.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The file is not UTF-8 text (invalid byte at position {exc.start})."
        ) from exc
    return text.removeprefix("\ufeff")


def load_yaml(text):
    """``yaml.safe_load`` that refuses documents whose aliases add more than
    YAML_ALIAS_EXPANSION_MAX values once expanded, and recursive aliases, before constructing
    anything.

    PyYAML itself shares aliased nodes, so a "billion laughs" document loads in a blink here;
    but ansible-playbook expands it and held a web worker for a minute in --syntax-check."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_alias_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node):
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return ()


def _check_alias_expansion(root):
    """Count the values ``root`` holds once every alias is replaced by a copy of its anchor:
    a post-order walk over the composed graph, each distinct node sized once (iterative, so a
    deep document cannot exhaust the stack)."""
    sizes = {}  # id(node) -> values under it, aliases expanded
    open_nodes = set()  # nodes whose children are still being sized: the current path
    stack = [(root, False)]
    while stack:
        node, children_sized = stack.pop()
        key = id(node)
        if children_sized:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise ValidationError(
                    "YAML aliases are limited: an alias (*name) refers to a value that contains "
                    "it, which never ends when expanded."
                )
            if id(child) not in sizes:
                stack.append((child, False))
    added = sizes[id(root)] - len(sizes)  # expanded values minus the document's own
    if added > YAML_ALIAS_EXPANSION_MAX:
        raise ValidationError(
            f"YAML aliases are limited: expanded, the aliases (*name) in this playbook add "
            f"{added:,} values; at most {YAML_ALIAS_EXPANSION_MAX:,} are allowed. Repeat less, "
            "or use Ansible variables instead of anchors."
        )


def check_structure(text):
    """Size, text and YAML checks (fast, no subprocess). Returns the parsed plays."""
    size = len(text.encode("utf-8"))
    if size > settings.PLAYBOOK_MAX_BYTES:
        raise ValidationError(
            f"The playbook is {size:,} bytes; the limit is {settings.PLAYBOOK_MAX_BYTES:,} bytes."
        )
    if not text.strip():
        raise ValidationError("The playbook is empty.")
    if "\x00" in text:
        raise ValidationError("The playbook contains NUL characters.")
    try:
        plays = load_yaml(text)
    except RecursionError as exc:
        # PyYAML composes recursively: a few hundred nested brackets exhaust the stack.
        raise ValidationError("The YAML is nested too deeply to be a playbook.") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ValidationError(f"YAML error{where}: {problem}.") from exc
    except yaml.YAMLError as exc:
        raise ValidationError(f"YAML error: {exc}") from exc
    if not isinstance(plays, list) or not plays:
        raise ValidationError(
            "A playbook is a YAML list of plays (each starting with '- hosts: ...'); "
            f"this file holds {'an empty list' if plays == [] else type(plays).__name__}."
        )
    for number, play in enumerate(plays, 1):
        if not isinstance(play, dict) or not PLAY_KEYS & play.keys():
            raise ValidationError(
                f"Play {number} is not a play: each item needs 'hosts' (or 'import_playbook')."
            )
    return plays


def syntax_check(text):
    """Run ``ansible-playbook --syntax-check`` on ``text`` inside the sandbox (lookups and
    templated play keys run there, where they find nothing of the app), with a time limit, in a
    throwaway directory that holds only the playbook. The error shown never quotes another
    file: Ansible's excerpt of any file but the playbook is left out."""
    with tempfile.TemporaryDirectory(prefix="syntax-") as tmp:
        workdir = Path(tmp)
        playbook = workdir / "playbook.yml"
        playbook.write_text(text, encoding="utf-8")
        (workdir / "home").mkdir()
        base = {
            "ANSIBLE_HOME": str(workdir / "ansible_home"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
        }
        command = ["ansible-playbook", "--syntax-check", "-i", "localhost,", "playbook.yml"]
        try:
            sandbox.check()
            sandbox.hand_over(workdir)
            done = subprocess.run(
                sandbox.wrap(command, workdir=workdir),
                env=sandbox.environment(base, workdir=workdir),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=SYNTAX_CHECK_TIMEOUT,
            )
        except sandbox.SandboxUnavailable as exc:
            raise ValidationError(f"The playbook cannot be checked: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise ValidationError(
                f"ansible-playbook --syntax-check did not finish within {SYNTAX_CHECK_TIMEOUT} s."
            ) from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).replace(str(playbook), "playbook.yml")
            output = _without_foreign_excerpts(output.replace(tmp + "/", "").replace(tmp, ""))
            raise ValidationError(
                f"ansible-playbook --syntax-check failed:\n{output.strip()[:2000]}"
            )


def _without_foreign_excerpts(output):
    """Drop the source excerpts Ansible prints under ``Origin: <file>:<line>`` for any file
    but the playbook (``import_playbook: /etc/passwd`` must not echo that file)."""
    kept, skipping = [], False
    for line in output.splitlines():
        origin = ORIGIN.match(line)
        if origin:
            skipping = origin["path"] != "playbook.yml"
            kept.append(f"{line} (contents not shown)" if skipping else line)
            continue
        if skipping and (not line.strip() or EXCERPT_LINE.match(line)):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept)


def validate_playbook(text):
    """All checks; raises ValidationError with the first problem found."""
    check_structure(text)
    syntax_check(text)
