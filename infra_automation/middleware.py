"""Site-wide response headers that Django 5.2 does not set itself."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` on every response that has none yet.

    Scripts and styles are served from this site (htmx included, no CDN), so the policy can
    refuse inline scripts, eval and every other origin. Django's own debug pages (DEBUG=True,
    status 500) are built on inline scripts and styles: they are left without the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and not (settings.DEBUG and response.status_code >= 500):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
