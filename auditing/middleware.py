"""Puts the request's user, IP, user agent and a request id into the audit context."""

from auditing.context import Actor, _current, client_ip


class AuditContextMiddleware:
    """Sets the audit actor for the request and resets it with its token in ``finally``.

    The actor is fixed when the request arrives: during the login view ``request.user`` changes,
    so the login receivers use the signal's ``user`` instead. The request id is sent back in
    ``X-Request-ID`` so a person can quote it and an admin can find the rows it wrote."""

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
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = actor.request_id
        return response
