"""Site-wide views: error pages in the site layout (never a traceback)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def bad_request(request, exception=None):
    """400 in the site layout. A form body over DATA_UPLOAD_MAX_MEMORY_SIZE says what was too
    large and what to do instead of Django's bare "Bad Request (400)"."""
    context = {
        "too_big": isinstance(exception, RequestDataTooBig),
        "body_limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        "playbook_limit": settings.PLAYBOOK_MAX_BYTES,
    }
    return render(request, "400.html", context, status=400)


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No request context: the failure may have come from a context processor or the database.
    return HttpResponseServerError(loader.get_template("500.html").render())
