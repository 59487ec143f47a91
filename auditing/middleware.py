"""Puts the request's user, IP, user agent and a request id into the audit context."""

from auditing.context import Actor, _current, client_ip


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user if request.user.is_authenticated else None
        actor = Actor(
            user=user,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            source="web",
        )
        request.audit_actor = actor
        token = _current.set(actor)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
