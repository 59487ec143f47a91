"""Who is acting, for the audit receivers: set per request by AuditContextMiddleware, or
explicitly by workers and commands with ``audit_context(...)``. ContextVars, never
thread-locals, and always reset with their tokens."""

import ipaddress
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    user: object = None  # a User or None for the system
    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    source: str = "system"  # "web", "worker", "command", "system"


_current: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


def current_actor():
    """The actor in force, or a system actor when nothing set one."""
    return _current.get() or Actor()


@contextmanager
def audit_context(*, user=None, source="system", ip_address=None, user_agent=""):
    """Attribute audit rows written inside the block to ``user`` (None: the system)."""
    token = _current.set(
        Actor(user=user, ip_address=ip_address, user_agent=user_agent[:512], source=source)
    )
    try:
        yield
    finally:
        _current.reset(token)


def client_ip(request):
    """The client's address: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT trusted proxies, the
    address the outermost of them recorded in TRUSTED_PROXY_IP_HEADER.

    Each proxy appends the address it received the request from to the right of
    X-Forwarded-For, after whatever the client sent. Only the right-most N entries were
    written by our N proxies; anything left of them is the client's own claim, so the left-most
    address (the usual mistake) lets anyone choose the IP that throttling and the audit trail
    see. A header with fewer entries than proxies did not pass through all of them: REMOTE_ADDR
    is used instead."""
    from django.conf import settings

    header = getattr(settings, "TRUSTED_PROXY_IP_HEADER", "")
    candidate = request.META.get("REMOTE_ADDR", "")
    if header and request.META.get(header):
        hops = [hop.strip() for hop in request.META[header].split(",")]
        count = max(1, int(getattr(settings, "TRUSTED_PROXY_COUNT", 1)))
        if len(hops) >= count:
            candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
