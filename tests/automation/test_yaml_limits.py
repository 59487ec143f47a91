"""YAML that is cheap to write and expensive to expand is refused by check_structure, before
any ansible-playbook process runs."""

import pytest
from django.core.exceptions import ValidationError

from automation import validation
from automation.models import Playbook

pytestmark = pytest.mark.django_db


def laughs(levels):
    """The classic "billion laughs": each level is nine aliases of the level before."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = [f'    {names[0]}: &{names[0]} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip(names, names[1:], strict=False):
        lines.append(f"    {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "- hosts: all\n  gather_facts: false\n  vars:\n" + "\n".join(lines) + "\n  tasks: []\n"


@pytest.fixture
def subprocesses(monkeypatch):
    """Every subprocess validation starts (none is expected)."""
    calls = []
    monkeypatch.setattr(validation.subprocess, "run", lambda *a, **k: calls.append(a))
    return calls


def test_billion_laughs_is_refused_without_running_ansible(as_admin, subprocesses):
    response = as_admin.post(
        "/playbooks/new/", {"name": "Bomb", "description": "", "content": laughs(9)}
    )
    assert response.status_code == 200
    assert "YAML aliases are limited" in " ".join(response.context["form"].errors["content"])
    assert subprocesses == [] and not Playbook.objects.exists()


def test_a_recursive_alias_is_refused(subprocesses):
    with pytest.raises(ValidationError, match="aliases are limited"):
        validation.validate_playbook("- hosts: all\n  vars: &v\n    self: *v\n")
    assert subprocesses == []


def test_deep_nesting_is_a_message_not_a_recursion_error(subprocesses):
    with pytest.raises(ValidationError, match="nested too deeply"):
        validation.validate_playbook(
            "- hosts: all\n  vars: {a: " + "[" * 30_000 + "]" * 30_000 + "}\n"
        )
    assert subprocesses == []


def test_ordinary_anchors_still_load():
    text = (
        "- hosts: web\n  vars: &common {port: 80, users: [a, b]}\n  tasks: []\n"
        "- hosts: db\n  vars: *common\n  tasks: []\n"
    )
    plays = validation.check_structure(text)
    assert plays[1]["vars"] == {"port": 80, "users": ["a", "b"]}
    validation.check_structure(laughs(5))  # 59,049 values added: under the bound
