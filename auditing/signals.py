"""Signal receivers that write the audit trail; connected in ``AuditingConfig.ready()``.

Models opt in with ``auditing.mixins.AuditedMixin``, which says how each appears in the trail
(its resource type and id, the fields never compared or stored, the fields masked, the actions
its changes are). The receivers name no model.

* CREATE / UPDATE / DELETE for every opted-in model (or the actions its hooks choose: a job's
  creation is RUN). An UPDATE stores only the fields that changed, old -> new, read from the
  database in ``pre_save`` (the truth of what the save overwrites); a save that changes nothing
  writes nothing. Changes made with ``QuerySet.update`` send no signal: their callers use
  ``auditing.services.audit_record`` explicitly (``Job.transition``).
* ``audit_events`` adds rows after a save from the stored values of ``audit_watched_fields``
  (a user's new password is PASSWORD_CHANGE, never the hash).
* Authentication: LOGIN, LOGOUT, LOGIN_FAILED (the attempted username and the IP); the login
  throttle (``accounts/throttle.py``) counts those rows.
"""

from typing import cast

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_save

from auditing.context import current_actor
from auditing.mixins import audited_models
from auditing.models import AuditLog
from auditing.services import (
    MASK,
    NO_USER,
    SECRET_KEY_RE,
    audit_record,
    jsonable,
    login_resource_id,
)

Action = AuditLog.Action


def _fields(sender):
    ignored = sender.audit_ignored_fields
    return [f for f in sender._meta.concrete_fields if f.name not in ignored and not f.primary_key]


def _masked(model, name):
    if name in model.audit_masked_fields:
        return True
    return bool(SECRET_KEY_RE.search(name)) and name not in model.audit_unmasked_fields


def _value(field, raw):
    """A comparable, JSON-safe form of a field value ("22" and 22 compare equal on a port),
    masked when the model says so or the field's name looks secret; JSON values are masked key
    by key inside."""
    if _masked(field.model, field.name):
        return MASK
    try:
        return jsonable(field.to_python(raw))
    except ValidationError:  # not parseable: recorded as given
        return jsonable(raw)


def _snapshot(sender, instance, *, skip_empty=False):
    values = {f.name: _value(f, getattr(instance, f.attname)) for f in _fields(sender)}
    if skip_empty:
        return {name: value for name, value in values.items() if value not in ("", None)}
    return values


def record_old_values(sender, instance, raw=False, update_fields=None, **kwargs):
    """Read the row as it is before this save overwrites it."""
    instance._audit_old = None
    if raw or instance._state.adding or instance.pk is None:
        return
    fields = _fields(sender)
    if update_fields is not None:
        fields = [f for f in fields if f.name in update_fields or f.attname in update_fields]
    watched = [
        sender._meta.get_field(name).attname
        for name in sorted(sender.audit_watched_fields)
        if update_fields is None or name in update_fields
    ]
    attnames = [f.attname for f in fields] + watched
    if not attnames:
        return  # only noise is saved (e.g. last_login at each login): nothing to compare
    row = sender._base_manager.filter(pk=instance.pk).values(*attnames).first()
    if row is None:
        return
    instance._audit_old = {
        "fields": {f.name: _value(f, row[f.attname]) for f in fields},
        "watched": {name: row[name] for name in watched},
    }


def record_save(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    old = getattr(instance, "_audit_old", None)
    instance._audit_old = None
    if created:
        details = {"fields": _snapshot(sender, instance, skip_empty=True)}
        user = None
        if current_actor().user is None:
            user = instance.audit_creator()
        audit_record(instance.audit_create_action(), instance, details, user=user, mask=False)
        return
    if old is None:
        return
    new = _snapshot(sender, instance)
    changes = {
        name: [before, new[name]] for name, before in old["fields"].items() if before != new[name]
    }
    # A service that knows more than the diff (a playbook restore) names the action itself.
    named, instance.audit_next_action = getattr(instance, "audit_next_action", None), None
    if changes:
        action = named or instance.audit_update_action(changes)
        audit_record(action, instance, {"changes": changes}, mask=False)
    for action, details in instance.audit_events(old["watched"]):
        audit_record(action, instance, details)


def record_delete(sender, instance, **kwargs):
    user = None
    acting = current_actor().user
    if isinstance(acting, sender) and acting.pk == instance.pk:
        user = NO_USER  # the acting user's own row is gone: the row cannot point at it
    details = {"fields": _snapshot(sender, instance, skip_empty=True)}
    audit_record(Action.DELETE, instance, details, user=user, mask=False)


def record_login(sender, request, user, **kwargs):
    # request.user changes during the login view: the signal's user is the one who logged in.
    audit_record(Action.LOGIN, user, {"username": user.username}, user=user, request=request)


def record_logout(sender, request, user, **kwargs):
    if user is None:
        return
    audit_record(Action.LOGOUT, user, {"username": user.username}, user=user, request=request)


def record_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        Action.LOGIN_FAILED,
        details={"username": username},
        user=NO_USER,
        resource_type="login",
        resource_id=login_resource_id(username),
        request=request,
    )


def connect():
    """Connect the receivers to every model that opted in (``auditing.mixins``) and to the
    authentication signals."""
    for audited in audited_models():
        model = cast(type[Model], audited)
        uid = f"audit-{model._meta.label}"
        pre_save.connect(record_old_values, sender=model, dispatch_uid=f"{uid}-pre")
        post_save.connect(record_save, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(record_delete, sender=model, dispatch_uid=f"{uid}-delete")
    user_logged_in.connect(record_login, dispatch_uid="audit-login")
    user_logged_out.connect(record_logout, dispatch_uid="audit-logout")
    user_login_failed.connect(record_login_failed, dispatch_uid="audit-login-failed")
