"""Signal receivers that write the audit trail; connected in ``AuditingConfig.ready()``.

Tracked models opt in through ``TRACKED``: each names the fields that are never compared or
stored (timestamps the ORM sets, values the metrics collector writes, the password hash).

* CREATE / UPDATE / DELETE for users, servers and playbooks. An UPDATE stores only the fields
  that changed, old -> new, read from the database in ``pre_save`` (the truth of what the save
  overwrites); a save that changes nothing writes nothing.
* Jobs: creating one is RUN (RELAUNCH when ``relaunched_from`` is set); a save that sets the
  status to cancelled or raises ``cancel_requested`` is CANCEL; other changes are UPDATE.
  Status changes through ``Job.transition`` are ``QuerySet.update`` calls and send no signal:
  their callers use ``auditing.services.audit_record`` explicitly.
* A user's new password is PASSWORD_CHANGE (never the hash). A hash upgraded at login by
  Django (same password, new hasher) is not a change and writes nothing.
* Authentication: LOGIN, LOGOUT, LOGIN_FAILED (the attempted username and the IP).
"""

from dataclasses import dataclass

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save, pre_save

from auditing.context import current_actor
from auditing.models import AuditLog
from auditing.services import MASK, NO_USER, SECRET_KEY_RE, audit_record, jsonable

Action = AuditLog.Action


@dataclass(frozen=True)
class Tracking:
    ignored: frozenset
    # Fields whose name looks secret but whose value is not (a path, not the key itself).
    not_secret: frozenset = frozenset()


TRACKED = {
    "accounts.User": Tracking(
        # is_staff/is_superuser follow the role (User.save), so the role change says it all.
        frozenset(
            {"password", "last_login", "updated_at", "created_at", "is_staff", "is_superuser"}
        )
    ),
    "inventory.Server": Tracking(
        frozenset(
            {
                "cpu_usage",
                "memory_usage",
                "disk_usage",
                "last_monitored",
                "last_error",
                "updated_at",
                "created_at",
            }
        ),
        # A file name inside SSH_KEYS_DIR; the key's contents never reach the database.
        not_secret=frozenset({"ssh_key_path"}),
    ),
    "automation.Playbook": Tracking(frozenset({"updated_at", "created_at"})),
    # task_id and worker are plumbing between the web process and the worker, not decisions.
    "automation.Job": Tracking(frozenset({"created_at", "task_id", "worker"})),
}


def _fields(sender):
    ignored = _tracking(sender).ignored
    return [f for f in sender._meta.concrete_fields if f.name not in ignored and not f.primary_key]


def _value(field, raw):
    """A comparable, JSON-safe form of a field value ("22" and 22 compare equal on a port),
    masked when the field's name looks secret; JSON values are masked key by key inside."""
    if SECRET_KEY_RE.search(field.name) and field.name not in _tracking(field.model).not_secret:
        return MASK
    try:
        return jsonable(field.to_python(raw))
    except ValidationError:  # not parseable: recorded as given
        return jsonable(raw)


def _tracking(model):
    return TRACKED[model._meta.label]


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
    attnames = [f.attname for f in fields]
    if sender._meta.label == "accounts.User" and (
        update_fields is None or "password" in update_fields
    ):
        attnames.append("password")
    if not attnames:
        return  # only noise is saved (e.g. last_login at each login): nothing to compare
    row = sender._base_manager.filter(pk=instance.pk).values(*attnames).first()
    if row is None:
        return
    instance._audit_old = {
        "fields": {f.name: _value(f, row[f.attname]) for f in fields},
        "password": row.get("password"),
    }


def record_save(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    old = getattr(instance, "_audit_old", None)
    instance._audit_old = None
    label = sender._meta.label
    if created:
        details = {"fields": _snapshot(sender, instance, skip_empty=True)}
        action, user = Action.CREATE, None
        if label == "automation.Job":
            action = Action.RELAUNCH if instance.relaunched_from_id else Action.RUN
            # Launching is the launcher's act, also outside a request (a command, a schedule).
            if current_actor().user is None and instance.user_id:
                user = instance.user
        audit_record(action, instance, details, user=user, mask=False)
        return
    if old is None:
        return
    new = _snapshot(sender, instance)
    changes = {
        name: {"old": before, "new": new[name]}
        for name, before in old["fields"].items()
        if before != new[name]
    }
    if changes:
        audit_record(_update_action(label, changes), instance, {"changes": changes}, mask=False)
    if (
        label == "accounts.User"
        and old["password"] is not None  # the password was part of this save
        and old["password"] != instance.password
        and instance._password is not None  # set_password() ran: a new password, not a rehash
    ):
        audit_record(Action.PASSWORD_CHANGE, instance, {"username": instance.username})


def _update_action(label, changes):
    if label == "automation.Job":
        status = changes.get("status", {}).get("new")
        cancel_flag = changes.get("cancel_requested", {}).get("new")
        if status == "cancelled" or cancel_flag is True:
            return Action.CANCEL
    return Action.UPDATE


def record_delete(sender, instance, **kwargs):
    user = None
    actor = current_actor()
    if sender._meta.label == "accounts.User" and getattr(actor.user, "pk", None) == instance.pk:
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
    from accounts.throttle import throttle_key

    username = str(credentials.get("username", ""))[:150]
    audit_record(
        Action.LOGIN_FAILED,
        details={"username": username},
        user=NO_USER,
        resource_type="login",
        resource_id=throttle_key(username),
        request=request,
    )


def connect():
    from django.apps import apps

    for label in TRACKED:
        model = apps.get_model(label)
        uid = f"audit-{label}"
        pre_save.connect(record_old_values, sender=model, dispatch_uid=f"{uid}-pre")
        post_save.connect(record_save, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(record_delete, sender=model, dispatch_uid=f"{uid}-delete")
    user_logged_in.connect(record_login, dispatch_uid="audit-login")
    user_logged_out.connect(record_logout, dispatch_uid="audit-logout")
    user_login_failed.connect(record_login_failed, dispatch_uid="audit-login-failed")
