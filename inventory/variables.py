"""Host and group variables: entered as YAML or JSON, stored as a JSON mapping.

The rules, each a ValidationError a person can act on:
- the text parses (YAML, of which JSON is a subset) to a mapping, or is empty (no variables);
- keys are strings that are valid Ansible variable names (letters, digits, underscores, not
  starting with a digit): anything else Ansible refuses when it loads the inventory;
- values are JSON data (YAML's dates and binary are refused: they would not survive JSON);
- keys starting with ``ansible_`` decide where and how Ansible connects (``ansible_host``,
  ``ansible_connection: local``...): only admins set them, as for extra vars.
"""

import json
import re
from typing import Any

import yaml
from django.core.exceptions import ValidationError

RESERVED_PREFIX = "ansible_"
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VARIABLES_MAX_BYTES = 64 * 1024
VARIABLES_MAX_DEPTH = 20


def parse_variables(text: str | None) -> dict[str, Any]:
    """The mapping ``text`` holds (YAML or JSON); {} for empty text."""
    text = (text or "").strip()
    if not text:
        return {}
    if len(text.encode("utf-8", "replace")) > VARIABLES_MAX_BYTES:
        raise ValidationError(f"Variables are limited to {VARIABLES_MAX_BYTES:,} bytes.")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise ValidationError(f"Variables are not valid YAML or JSON{where}: {problem}.") from None
    return validate_variables(value)


def validate_variables(value: Any) -> dict[str, Any]:
    """``value`` checked: a mapping of variable names to JSON data. Returns it."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            f"Variables must be a mapping of names to values (like 'http_port: 80'), "
            f"not a {_kind(value)}."
        )
    for key in value:
        if not isinstance(key, str) or not VARIABLE_NAME.match(key):
            raise ValidationError(
                f"{key!r} is not a valid variable name: letters, digits and underscores, not "
                "starting with a digit."
            )
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"Variables can only hold JSON data (text, numbers, lists, mappings): {exc}."
        ) from None
    if _depth(value) > VARIABLES_MAX_DEPTH:
        raise ValidationError(f"Variables are nested more than {VARIABLES_MAX_DEPTH} levels deep.")
    if len(text.encode("utf-8", "replace")) > VARIABLES_MAX_BYTES:
        raise ValidationError(f"Variables are limited to {VARIABLES_MAX_BYTES:,} bytes.")
    return value


def check_reserved_variables(variables: dict[str, Any], *, user: Any) -> None:
    """Only admins may set ``ansible_*`` keys: they change where or how Ansible connects."""
    reserved = sorted(k for k in variables if k.lower().startswith(RESERVED_PREFIX))
    if reserved and not user.is_admin:
        raise ValidationError(
            f"Only admins may set {', '.join(reserved)}: keys starting with 'ansible_' change "
            "where or how Ansible connects."
        )


def variables_text(variables: dict[str, Any] | None) -> str:
    """Variables as YAML for a form field ('' for none)."""
    if not variables:
        return ""
    return yaml.safe_dump(variables, allow_unicode=True, sort_keys=False, default_flow_style=False)


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _depth(value: Any) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest
