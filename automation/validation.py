"""Checks a playbook's text must pass before anything is stored.

In order: size, text (UTF-8, no NUL), YAML that parses (errors with line and column), a
non-empty list of plays, then ``ansible-playbook --syntax-check`` in a throwaway directory.
Each failure is a ValidationError a person can act on.
"""

import re
import subprocess
import tempfile
from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError

from automation import sandbox

PLAY_KEYS = {"hosts", "import_playbook", "ansible.builtin.import_playbook"}
SYNTAX_CHECK_TIMEOUT = 60
ORIGIN = re.compile(r"^Origin: (?P<path>.+?)(:\d+){1,2}\s*$")
# The lines of an excerpt: numbered source lines, the caret under the column, and notes.
EXCERPT_LINE = re.compile(r"^\s*(\d+ |\d+$|\^|\(source not shown)")


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
        plays = yaml.safe_load(text)
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
