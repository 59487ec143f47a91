"""Writes on users, with the users-page rules enforced here (not only in the forms):

* admins cannot create, edit or promote anyone to super_admin, and cannot edit super_admins;
* nobody changes their own role or deactivates themselves;
* the last active super_admin cannot be demoted, deactivated or deleted (the Django admin
  asks the same functions);
* deactivating a user ends their sessions.

The audit rows (CREATE, UPDATE, PASSWORD_CHANGE) come from the receivers in auditing/signals.py.
"""

from collections.abc import Iterable

from django.contrib.auth import update_session_auth_hash
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User

LAST_SUPER_ADMIN = "This is the last active super admin: it cannot be demoted or deactivated."


def other_active_super_admins(*, excluding: Iterable[int]) -> bool:
    """Do active super_admins remain besides the users whose pks are in ``excluding``?

    Locks the active super_admin rows (SELECT ... FOR UPDATE), so inside a transaction two
    simultaneous demotions or deletions queue up and the second sees the first. Used by the
    users page and the Django admin alike."""
    return (
        User.objects.select_for_update()
        .filter(role=User.Role.SUPER_ADMIN, is_active=True)
        .exclude(pk__in=excluding)
        .exists()
    )


def removes_last_super_admin(users: Iterable[User]) -> bool:
    """Would deleting or deactivating ``users`` leave no active super_admin? (Locks, as
    ``other_active_super_admins``; False when none of them is an active super_admin.)"""
    pks = [user.pk for user in users]
    if not User.objects.filter(pk__in=pks, role=User.Role.SUPER_ADMIN, is_active=True).exists():
        return False
    return not other_active_super_admins(excluding=pks)


def can_manage(actor: User, target: User) -> bool:
    """May ``actor`` edit ``target`` on the users page? Admins never touch super_admins."""
    return actor.is_admin and (actor.is_super_admin or not target.is_super_admin)


def _check_role_grant(actor, role):
    if role not in User.Role.values:
        raise ValidationError({"role": "Unknown role."})
    if role == User.Role.SUPER_ADMIN and not actor.is_super_admin:
        raise PermissionDenied("Only a super admin can make a super admin.")


def user_create(
    *, actor: User, username: str, email: str, role: str, timezone_name: str, password: str
) -> User:
    """Create a user with a validated password (the form ran Django's validators)."""
    if not actor.is_admin:
        raise PermissionDenied
    _check_role_grant(actor, role)
    return User.objects.create_user(
        username=username, email=email, password=password, role=role, timezone=timezone_name
    )


def user_update(
    *, actor: User, target: User, email: str, role: str, is_active: bool, timezone_name: str
) -> User:
    """Change a user's email, role, active flag and time zone; all checks or nothing.

    The checks read the row from the database (locked), never ``target``'s attributes: a bound
    ModelForm has already copied the submitted values onto its instance."""
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=target.pk)
        if not can_manage(actor, current):
            raise PermissionDenied("You cannot edit this user.")
        if current.pk == actor.pk and (role != current.role or not is_active):
            raise ValidationError("You cannot change your own role or deactivate yourself.")
        if role != current.role:
            _check_role_grant(actor, role)
        losing_super_admin = (
            current.is_super_admin
            and current.is_active
            and (role != User.Role.SUPER_ADMIN or not is_active)
        )
        if losing_super_admin and not other_active_super_admins(excluding=[current.pk]):
            raise ValidationError(LAST_SUPER_ADMIN)
        deactivated = current.is_active and not is_active
        current.email, current.role, current.is_active = email, role, is_active
        current.timezone = timezone_name
        current.save()
        if deactivated:
            sessions_end(user=current)
    return current


def user_set_password(
    *, actor: User, target: User, password: str, request: HttpRequest | None = None
) -> User:
    """Set ``target``'s password (already validated). Their other sessions end with the old
    password hash; the actor's own session is kept when they change their own."""
    if target.pk != actor.pk and not can_manage(actor, User.objects.get(pk=target.pk)):
        raise PermissionDenied("You cannot change this user's password.")
    target.set_password(password)
    target.save(update_fields=["password"])
    if request is not None and target.pk == actor.pk:
        update_session_auth_hash(request, target)
    return target


def user_settings_update(*, user: User, timezone_name: str) -> User:
    """Save a person's own settings (their time zone, already validated)."""
    user.timezone = timezone_name
    user.save()
    return user


def sessions_end(*, user: User) -> int:
    """Delete every live session of ``user``; returns how many.

    The database session store keeps the user id only inside the encoded session data, so the
    live sessions are decoded one by one (in chunks: memory stays flat with many sessions).
    Sessions are few next to users' actions, and this runs only when someone is deactivated.
    """
    user_pk = str(user.pk)
    doomed = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).only(
        "session_key", "session_data"
    )
    for session in live.iterator(chunk_size=500):
        if str(session.get_decoded().get("_auth_user_id")) == user_pk:
            doomed.append(session.session_key)
    deleted = 0
    for start in range(0, len(doomed), 500):
        deleted += Session.objects.filter(session_key__in=doomed[start : start + 500]).delete()[0]
    return deleted
