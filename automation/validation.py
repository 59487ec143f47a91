"""Checks a playbook's text must pass before anything is stored, and the warnings shown after.

In order: size, text (UTF-8, no NUL), YAML that parses as Ansible parses it (its own tags
``!unsafe``, ``!vault`` and ``!vault-encrypted`` included; errors with line and column) and
whose aliases do not expand past a bound, a non-empty list of plays, then
``ansible-playbook --syntax-check`` in the sandbox: in a throwaway directory for a single-file
playbook (``validate_playbook``), inside the project's snapshot for a project playbook
(``check_project_playbook``). Each failure is a ValidationError a person can act on; file
references that cannot be found are warnings (``playbook_warnings``), never a refusal.
"""

import copy
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

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
TAB_HINT = (
    " YAML indents with spaces: a tab may stand inside a string or a literal block (|), "
    "never as indentation."
)
# Characters that may continue a path name: a directory only counts as a path's prefix when
# neither side of it continues a name (so /tmp/x never matches inside /tmp/xy or /a/tmp/x).
_PATH_CHAR = r"[\w.~-]"


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


def normalise_line_endings(text: str) -> str:
    """The only change made to a playbook's text before it is stored: line endings become
    ``\\n`` (a browser sends ``\\r\\n``) and a leading byte order mark goes. Everything else,
    tabs inside a literal block and trailing spaces included, is kept byte for byte: it is what
    ansible-playbook would read."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


class Vaulted(str):
    """An inline ``!vault`` value: its ciphertext, undecrypted (no vault password here)."""


class PlaybookLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the tags Ansible's own loader adds, so what ansible-playbook
    reads, this reads: ``!unsafe`` (any value, constructed as if untagged), ``!vault`` and
    ``!vault-encrypted`` (a string: the ciphertext), and the legacy ``!!python/dict`` and
    ``!!python/unicode``. Ansible's ``AnsibleLoader`` itself costs the web process ~0.4 s and
    ~270 modules on first import (ansible-core 2.19 loads its templating and config with it)."""

    def construct_as_untagged(self, node):
        # Resolve the node's implicit tag again, as Ansible does, and construct that; a copy so
        # construct_object's recursion check does not see the same node twice.
        untagged = copy.copy(node)
        untagged.tag = self.resolve(type(node), node.value, (True, False))
        return self.construct_object(untagged, deep=True)

    def construct_vault(self, node):
        value = self.construct_as_untagged(node)
        if not isinstance(value, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"the {node.tag} tag requires a string value", node.start_mark
            )
        return Vaulted(value)


_ANSIBLE_CONSTRUCTORS: dict[str, Any] = {
    "!unsafe": PlaybookLoader.construct_as_untagged,
    "!vault": PlaybookLoader.construct_vault,
    "!vault-encrypted": PlaybookLoader.construct_vault,
    "tag:yaml.org,2002:python/dict": PlaybookLoader.construct_yaml_map,
    "tag:yaml.org,2002:python/unicode": PlaybookLoader.construct_yaml_str,
}
for _tag, _constructor in _ANSIBLE_CONSTRUCTORS.items():
    PlaybookLoader.add_constructor(_tag, _constructor)


def load_yaml(text):
    """Parse ``text`` with PlaybookLoader, refusing documents whose aliases add more than
    YAML_ALIAS_EXPANSION_MAX values once expanded, and recursive aliases, before constructing
    anything.

    PyYAML itself shares aliased nodes, so a "billion laughs" document loads in a blink here;
    but ansible-playbook expands it and held a web worker for a minute in --syntax-check."""
    loader = PlaybookLoader(text)
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
    sizes: dict[int, int] = {}  # id(node) -> values under it, aliases expanded
    open_nodes: set[int] = set()  # nodes whose children are still being sized: the current path
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
        hint = TAB_HINT if "'\\t'" in problem else ""
        raise ValidationError(f"YAML error{where}: {problem}.{hint}") from exc
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


def _run_syntax_check(
    *,
    workdir: Path,
    playbook: str,
    cwd: Path,
    shown: Sequence[tuple[Path, str]],
    is_own_file,
    readonly: Sequence[Path] = (),
    env: Mapping[str, str] = MappingProxyType({}),
) -> None:
    """``ansible-playbook --syntax-check <playbook>`` started in ``cwd`` inside the sandbox, with
    ``workdir`` (a throwaway directory) as its writable home and scratch space. On failure the
    ValidationError shows the paths under each ``shown`` directory relative to it (see
    _readable_paths) and leaves out Ansible's excerpt of any file ``is_own_file`` refuses."""
    (workdir / "home").mkdir(exist_ok=True)
    base = {
        "ANSIBLE_HOME": str(workdir / "ansible_home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        **env,
    }
    command = ["ansible-playbook", "--syntax-check", "-i", "localhost,", playbook]
    try:
        sandbox.check()
        sandbox.hand_over(workdir)
        done = subprocess.run(
            sandbox.wrap(command, workdir=workdir, cwd=cwd, readonly=readonly),
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
        shown = [(workdir / "ansible_home", "~/.ansible"), *shown]
        output = _readable_paths(done.stderr or done.stdout, shown)
        output = _without_foreign_excerpts(output, is_own_file)
        raise ValidationError(f"ansible-playbook --syntax-check failed:\n{output.strip()[:2000]}")


def _readable_paths(output: str, shown: Sequence[tuple[Path, str]]) -> str:
    """``output`` with each directory of ``shown`` written as its short name, only where it
    starts a whole path: ``<dir>/roles:/usr/share/ansible/roles:<dir>`` becomes
    ``roles:/usr/share/ansible/roles:.`` for the short name "" (the directory itself is ".").
    The longest directory is replaced first, so one inside another keeps its own name."""
    prefixes: dict[str, str] = {}
    for directory, name in shown:
        for spelling in (str(directory), os.path.realpath(directory)):
            prefixes.setdefault(spelling.rstrip("/"), name)
    for prefix, name in sorted(prefixes.items(), key=lambda item: -len(item[0])):
        pattern = re.compile(rf"(?<!{_PATH_CHAR})(?<!/){re.escape(prefix)}(/+|(?!{_PATH_CHAR}))")

        def replace(match, name=name):
            if match.group(1):  # a path below the directory
                return f"{name}/" if name else ""
            return name or "."

        output = pattern.sub(replace, output)
    return output


def syntax_check(text):
    """Run ``ansible-playbook --syntax-check`` on ``text`` inside the sandbox (lookups and
    templated play keys run there, where they find nothing of the app), with a time limit, in a
    throwaway directory that holds only the playbook. The error shown never quotes another
    file: Ansible's excerpt of any file but the playbook is left out."""
    with tempfile.TemporaryDirectory(prefix="syntax-") as tmp:
        workdir = Path(tmp)
        (workdir / "playbook.yml").write_text(text, encoding="utf-8", newline="")
        _run_syntax_check(
            workdir=workdir,
            playbook="playbook.yml",
            cwd=workdir,
            shown=[(workdir, "")],
            is_own_file=lambda path: path == "playbook.yml",
        )


def _without_foreign_excerpts(output, is_own_file):
    """Drop the source excerpts Ansible prints under ``Origin: <file>:<line>`` for any file
    ``is_own_file`` refuses (``import_playbook: /etc/passwd`` must not echo that file)."""
    kept, skipping = [], False
    for line in output.splitlines():
        origin = ORIGIN.match(line)
        if origin:
            skipping = not is_own_file(origin["path"])
            kept.append(f"{line} (contents not shown)" if skipping else line)
            continue
        if skipping and (not line.strip() or EXCERPT_LINE.match(line)):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept)


def validate_playbook(text):
    """All checks of a single-file playbook; raises ValidationError with the first problem."""
    check_structure(text)
    syntax_check(text)


# --- project playbooks -------------------------------------------------------------------

# Environment variables whose values name directories or files the check must see: the
# sandbox hides the app's data directory, so each existing path they list is bound read-only.
_PATH_VARIABLE = re.compile(r"^ANSIBLE_\w*(_PATH|_PATHS|_CONFIG|_DIR)$")


def check_project_playbook(
    snapshot: Path, playbook: str, *, env: Mapping[str, str] = MappingProxyType({})
) -> list[str]:
    """Check the playbook ``playbook`` (a path relative to ``snapshot``, a project's files on
    disk) and return its warnings (``playbook_warnings``, paths relative to its directory).

    The text passes ``check_structure``; then ``ansible-playbook --syntax-check <playbook>`` runs
    in the sandbox **as if run from the snapshot root**, as AWX runs project playbooks: the
    working directory is the snapshot root and the argument the relative path. So the root's
    ``ansible.cfg`` applies (Ansible reads ``./ansible.cfg``; one beside a playbook in a
    subdirectory does not), and Ansible finds ``roles/``, ``collections/``, ``filter_plugins/``
    and the like beside the playbook itself, as it always does. The snapshot is mounted
    read-only and must be readable by the run-as user (RUNNER_USER when the app runs as root).
    ``env`` (``ANSIBLE_*`` only; e.g. ANSIBLE_ROLES_PATH and ANSIBLE_COLLECTIONS_PATH of
    installed requirements) is added to the environment, where it overrides ``ansible.cfg``,
    and the existing paths its ``*_PATH``, ``*_PATHS``, ``*_CONFIG`` and ``*_DIR`` variables
    list are mounted read-only. Raises ValidationError, with paths relative to the snapshot,
    for an absolute or escaping ``playbook`` and for any failed check."""
    root = Path(os.path.realpath(snapshot))
    relative = PurePosixPath(playbook)
    if not playbook or relative.is_absolute() or ".." in relative.parts:
        raise ValidationError(
            f"{playbook!r} is not a playbook path inside the project (give a relative path "
            "such as site.yml or playbooks/web.yml)."
        )
    path = Path(os.path.realpath(root / relative))
    if not path.is_relative_to(root):
        raise ValidationError(f"{playbook}: a link that leads outside the project.")
    if not path.is_file():
        raise ValidationError(f"{playbook}: no such file in the project.")
    try:
        size = path.stat().st_size
        if size > settings.PLAYBOOK_MAX_BYTES:
            raise ValidationError(
                f"The playbook is {size:,} bytes; the limit is "
                f"{settings.PLAYBOOK_MAX_BYTES:,} bytes."
            )
        text = decode_upload(path.read_bytes())
        check_structure(text)
    except ValidationError as exc:
        raise ValidationError(f"{playbook}: {' '.join(exc.messages)}") from exc
    readonly = [root]
    for key, value in env.items():
        if _PATH_VARIABLE.match(key):
            readonly += [
                Path(part)
                for part in value.split(os.pathsep)
                if part.startswith("/") and Path(part).exists()
            ]
    with tempfile.TemporaryDirectory(prefix="syntax-") as tmp:
        workdir = Path(tmp)
        _run_syntax_check(
            workdir=workdir,
            playbook=relative.as_posix(),
            cwd=root,
            shown=[(root, ""), (Path(snapshot), ""), (workdir, "(scratch)")],
            is_own_file=lambda shown: not shown.startswith(("/", "~", "(", "..")),
            readonly=readonly,
            env={key: value for key, value in env.items() if key.startswith("ANSIBLE_")},
        )
    return playbook_warnings(text, base_dir=path.parent, root=root)


# --- warnings: file references that cannot be found -------------------------------------

# The modules whose file argument is read on the controller, and the directory beside the
# playbook Ansible looks in first (then the playbook's own directory).
FILE_MODULES = {
    **dict.fromkeys(
        ("template", "ansible.builtin.template", "ansible.legacy.template"), ("src", "templates")
    ),
    **dict.fromkeys(("copy", "ansible.builtin.copy", "ansible.legacy.copy"), ("src", "files")),
    **dict.fromkeys(
        ("include_vars", "ansible.builtin.include_vars", "ansible.legacy.include_vars"),
        ("file", "vars"),
    ),
}
TASK_SECTIONS = ("pre_tasks", "tasks", "post_tasks", "handlers")
NO_FILES_BESIDE = "a single-file playbook has no files beside it; use a project"


def playbook_warnings(
    text: str, base_dir: Path | None = None, *, root: Path | None = None
) -> list[str]:
    """What a person should know about ``text`` that does not stop it being saved: each
    ``vars_files`` entry, ``template``/``copy`` ``src`` and ``include_vars`` file named
    literally (a ``{{`` expression, an absolute path or a ``remote_src`` copy is not looked
    for) that is not found relative to ``base_dir``, the playbook's directory, as Ansible
    looks (``templates/``, ``files/`` or ``vars/`` first, then the directory itself). With no
    ``base_dir`` (a single-file playbook) every such file is missing. ``root`` (default
    ``base_dir``) bounds the look-ups: a reference that leads outside it is reported, not
    looked for. Empty for text that does not parse (the checks report that)."""
    try:
        plays = load_yaml(text)
    except (yaml.YAMLError, ValidationError, RecursionError):
        return []
    if not isinstance(plays, list):
        return []
    bound = Path(os.path.realpath(root or base_dir)) if base_dir else None
    warnings = []
    for where, what, names, subdir in _file_references(plays):
        if base_dir is None or bound is None:
            warnings.append(f"{where}: {what} '{names[0]}' not found: {NO_FILES_BESIDE}.")
            continue
        candidates = [
            Path(os.path.realpath(base_dir / folder / name))
            for name in names
            for folder in ((subdir, ".") if subdir else (".",))
        ]
        if any(not c.is_relative_to(bound) for c in candidates):
            warnings.append(f"{where}: {what} '{names[0]}' is outside the project.")
        elif not any(c.exists() for c in candidates):
            looked = f" (looked in {subdir}/ and beside the playbook)" if subdir else ""
            warnings.append(f"{where}: {what} '{names[0]}' not found{looked}.")
    return warnings


def _literal(name: Any) -> bool:
    """A relative path the check can look for: no template expression, not absolute."""
    return (
        isinstance(name, str)
        and bool(name)
        and "{{" not in name
        and "{%" not in name
        and not name.startswith(("/", "~"))
    )


def _file_references(plays: list) -> Iterator[tuple[str, str, list[str], str | None]]:
    """(where, what, alternative names, subdirectory) of each literal file reference."""
    for number, play in enumerate(plays, 1):
        if not isinstance(play, dict):
            continue
        label = f"Play {number}"
        vars_files = play.get("vars_files")
        for entry in vars_files if isinstance(vars_files, list) else []:
            # A list entry is a set of alternatives: the first one found is used.
            names = entry if isinstance(entry, list) else [entry]
            if names and all(_literal(name) for name in names):
                yield label, "vars_files entry", [str(n) for n in names], None
        for section in TASK_SECTIONS:
            for task in _tasks(play.get(section)):
                yield from _task_references(label, task)


def _tasks(items: Any) -> Iterator[dict]:
    """The tasks of a section, those inside block/rescue/always included (iteratively)."""
    stack = [items]
    while stack:
        current = stack.pop()
        for item in reversed(current) if isinstance(current, list) else ():
            if not isinstance(item, dict):
                continue
            nested = [item[key] for key in ("block", "rescue", "always") if key in item]
            if nested:
                stack.extend(reversed(nested))
            else:
                yield item


def _task_references(label: str, task: dict) -> Iterator[tuple[str, str, list[str], None | str]]:
    for module, (argument, subdir) in FILE_MODULES.items():
        if module not in task:
            continue
        arguments = _module_arguments(task[module], free_form=argument == "file")
        if isinstance(task.get("args"), dict):
            arguments = {**task["args"], **arguments}
        if arguments.get("remote_src") in (True, "yes", "true", "True", "1"):
            continue
        name = arguments.get(argument)
        if _literal(name):
            task_name = task.get("name")
            where = f"{label}, task {task_name!r}" if isinstance(task_name, str) else label
            yield where, f"{module} {argument}", [str(name)], subdir


def _module_arguments(value: Any, *, free_form: bool) -> dict:
    """A module's arguments as a dict: given as one (``src: x``) or as ``key=value`` text
    (``template: src=x dest=y``); ``include_vars: x.yml`` names its file directly."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return {}
    try:
        words = shlex.split(value)
    except ValueError:
        return {}
    arguments = dict(word.split("=", 1) for word in words if "=" in word)
    if free_form and "file" not in arguments and words and "=" not in words[0]:
        arguments["file"] = words[0]
    return arguments
