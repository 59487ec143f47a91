"""Apps depend one way: ``core <- auditing <- accounts <- inventory <- automation <- insights,
maintenance``. A lower app never imports a higher one, not at module level and not inside a
function to dodge a cycle: the higher one listens to a signal instead.

Every module of the project's apps is parsed with ``ast`` and each ``import`` / ``from ... import``
anywhere in it is checked. ``devtools`` (development tools) and ``infra_automation`` (settings,
root URLs) sit above everything and may import anything; an app importing them breaks the rule
like any other upward import. Tests are not checked.
"""

import ast
from pathlib import Path

from django.conf import settings

# Lowest first; apps on the same line are siblings, neither above the other. ``core`` is the
# plumbing with no models: it imports no app at all.
LAYERS = [
    ("core",),
    ("auditing",),
    ("accounts",),
    ("inventory",),
    ("automation",),
    ("insights", "maintenance"),
    ("devtools", "infra_automation"),  # the project level: may import anything, nobody imports it
]
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}
UNCHECKED = {"devtools", "infra_automation"}

# Upward imports that exist today in code being reworked elsewhere: (file, imported module).
# The test fails when one is added, and also when one listed here is gone (delete its line),
# so this list only shrinks. It is empty: keep it so.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def project_modules():
    base = Path(settings.BASE_DIR)
    for app in RANK:
        folder = base / app
        if folder.is_dir():
            yield from sorted(folder.rglob("*.py"))


def imported_modules(path):
    """Every module ``path`` imports, at any depth of its code (absolute names)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(settings.BASE_DIR).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join(parent + ([node.module] if node.module else []))
            else:
                yield node.module


def upward_imports():
    found = set()
    for path in project_modules():
        relative = path.relative_to(settings.BASE_DIR).as_posix()
        importer = relative.split("/")[0]
        if importer in UNCHECKED:
            continue
        for module in imported_modules(path):
            target = module.split(".")[0]
            if target in RANK and RANK[target] > RANK[importer]:
                found.add((relative, module))
    return found


def test_no_app_imports_an_app_above_it():
    new = sorted(upward_imports() - KNOWN_VIOLATIONS)
    assert not new, f"imports of a higher app (the rule is in docs/DESIGN.md): {new}"


def test_the_list_of_known_violations_only_shrinks():
    fixed = sorted(KNOWN_VIOLATIONS - upward_imports())
    assert not fixed, f"no longer imported, remove from KNOWN_VIOLATIONS: {fixed}"


def test_the_checker_sees_function_level_imports(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hidden.py").write_text(
        "def f():\n    from automation.models import Job\n    from . import sibling\n"
    )
    (tmp_path / "automation").mkdir()
    (tmp_path / "automation" / "fine.py").write_text("import inventory.models\n")
    assert upward_imports() == {("inventory/hidden.py", "automation.models")}
