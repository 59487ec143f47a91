"""How a model opts into the audit trail.

A model that lists ``AuditedMixin`` among its bases is tracked: the receivers in
``auditing/signals.py`` write CREATE / UPDATE / DELETE rows for it, and the audit page names its
rows and links them to the object's page. Everything domain-specific is declared on the model,
so the receivers and the audit page know no model by name::

    class Server(AuditedMixin, models.Model):
        audit_resource_type = "server"             # resource_type in audit rows
        audit_ignored_fields = frozenset({"cpu_usage", "updated_at", ...})
        audit_unmasked_fields = frozenset({"ssh_key_path"})  # a path, not a key

        def get_absolute_url(self):                # where the audit page links
            return reverse("server_detail", args=[self.pk])

Hooks a model may override: ``audit_create_action`` (a job's creation is RUN),
``audit_update_action`` (a job's cancel is CANCEL), ``audit_creator`` (who launched it, when
nobody is acting) and ``audit_events`` (a user's new password, read from
``audit_watched_fields``).
"""

import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from auditing.models import AuditLog

if TYPE_CHECKING:
    from django.db.models.options import Options


class AuditedMixin:
    """Opt a model into the audit trail; see the module docstring."""

    if TYPE_CHECKING:  # provided by models.Model, which every user of the mixin also is
        _meta: ClassVar["Options[Any]"]
        _default_manager: ClassVar["models.Manager[Any]"]

    # resource_type of its audit rows (the audit page's filter); default: the model name.
    audit_resource_type: ClassVar[str] = ""
    # The field that names an object in audit rows: ``pk``, or a public id (a job's UUID).
    audit_id_field: ClassVar[str] = "pk"
    # Never compared nor stored: timestamps the ORM sets, values a collector writes, hashes.
    audit_ignored_fields: ClassVar[frozenset[str]] = frozenset()
    # Stored as ******** whatever they are called. Fields whose name looks secret (password,
    # token, key...) are masked too, unless listed in ``audit_unmasked_fields``.
    audit_masked_fields: ClassVar[frozenset[str]] = frozenset()
    audit_unmasked_fields: ClassVar[frozenset[str]] = frozenset()
    # Ignored fields whose stored value is read before a save and handed to ``audit_events``.
    audit_watched_fields: ClassVar[frozenset[str]] = frozenset()
    # The action of the next update row, when a service knows more than the diff (a playbook
    # restore is RESTORE); the receiver uses it for that one save and clears it.
    audit_next_action: str | None = None

    @classmethod
    def audit_type(cls) -> str:
        return cls.audit_resource_type or str(cls._meta.model_name)

    @property
    def audit_id(self) -> str:
        value = getattr(self, self.audit_id_field)
        return "" if value is None else str(value)

    def audit_create_action(self) -> str:
        """The action of the row its creation writes."""
        return AuditLog.Action.CREATE

    def audit_update_action(self, changes: dict) -> str:
        """The action of the row a save that changed ``changes`` ({field: [old, new]}) writes.
        A service may instead set ``audit_next_action`` on the instance before saving (a
        playbook restore is RESTORE); it applies to that one save."""
        return AuditLog.Action.UPDATE

    def audit_creator(self) -> Any:
        """Whom its creation is attributed to when no user is acting (a command, a schedule)."""
        return None

    def audit_events(self, before: dict) -> Iterable[tuple[str, dict]]:
        """Rows to write after a save besides UPDATE, as (action, details); ``before`` holds
        the stored values of the ``audit_watched_fields`` this save wrote."""
        return ()

    @classmethod
    def audit_clean_id(cls, raw: str) -> str:
        """``raw`` as this model's audit rows write an id; ValidationError when it cannot be one
        (the audit page's filter)."""
        name = cls.audit_id_field
        field = cls._meta.pk if name == "pk" else cls._meta.get_field(name)
        kind = cls.audit_type()
        if isinstance(field, models.UUIDField):
            try:
                return str(uuid.UUID(raw))
            except ValueError:
                raise ValidationError(
                    f"A {kind} id is a UUID (as shown on the {kind} page)."
                ) from None
        numeric = isinstance(field, models.IntegerField | models.AutoField)
        if numeric and not (raw.isascii() and raw.isdigit()):
            raise ValidationError(f"A {kind} id is a whole number.")
        return raw

    @classmethod
    def audit_objects(cls, ids: Iterable[str]) -> dict[str, Any]:
        """{audit id: object} of those of ``ids`` that still exist, in one query."""
        valid = []
        for raw in ids:
            try:
                valid.append(cls.audit_clean_id(raw))
            except ValidationError:
                continue
        if not valid:
            return {}
        lookup = f"{cls.audit_id_field}__in"
        return {obj.audit_id: obj for obj in cls._default_manager.filter(**{lookup: valid})}


def audited_models() -> Iterator[type[AuditedMixin]]:
    """Every installed model that opted in, in INSTALLED_APPS order."""
    for model in apps.get_models():
        if issubclass(model, AuditedMixin):
            yield model


def audited_model(resource_type: str) -> type[AuditedMixin] | None:
    """The model whose audit rows have ``resource_type``, or None."""
    for model in audited_models():
        if model.audit_type() == resource_type:
            return model
    return None
