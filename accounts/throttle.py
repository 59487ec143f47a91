"""Login throttling, counted from the audit trail itself.

After ``LOGIN_FAILURE_LIMIT`` failed attempts for one username from one IP address within
``LOGIN_LOCKOUT_MINUTES``, further attempts for that pair are refused (even with the right
password) until ``LOGIN_LOCKOUT_MINUTES`` after the last failure. A successful login from that
address clears the count.

Why not a cache counter or django-axes: the default cache is per process (LocMemCache) and the
web server runs several, so a cache counter would let an attacker multiply the limit; axes would
add three tables and a backend that every ``authenticate()`` call must feed a request. The
LOGIN_FAILED rows the audit trail writes anyway are shared by every process, survive restarts,
and are indexed for exactly this lookup (``idx_audit_login_throttle``). See
docs/audit-and-security.md.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from auditing.models import AuditLog
from auditing.services import login_resource_id


def throttle_key(username):
    """The username as the throttle counts it: as the audit trail writes a login attempt's
    resource_id (``auditing.services.login_resource_id``)."""
    return login_resource_id(username)


def login_blocked_until(*, username, ip_address, now=None):
    """When the block for this username and address ends, or None when attempts are allowed."""
    limit = settings.LOGIN_FAILURE_LIMIT
    window = timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    now = now or timezone.now()
    # The newest failure must be within one window and the limit-th newest within one more.
    since = now - 2 * window
    last_success = (
        AuditLog.objects.filter(
            action=AuditLog.Action.LOGIN,
            user__username__iexact=username,
            ip_address=ip_address,
            timestamp__gte=since,
        )
        .order_by("-timestamp")
        .values_list("timestamp", flat=True)
        .first()
    )
    if last_success is not None:
        since = max(since, last_success)
    failures = list(
        AuditLog.objects.filter(
            resource_type="login",
            resource_id=throttle_key(username),
            ip_address=ip_address,
            action=AuditLog.Action.LOGIN_FAILED,
            timestamp__gt=since,
        )
        .order_by("-timestamp")
        .values_list("timestamp", flat=True)[:limit]
    )
    if len(failures) < limit:
        return None
    newest, oldest = failures[0], failures[-1]
    if newest - oldest < window and now < newest + window:
        return newest + window
    return None
