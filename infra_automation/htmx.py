"""Answers shared by views that serve both HTMX and plain requests."""

from django.http import HttpResponse
from django.shortcuts import redirect


def redirect_after_post(request, url):
    """After a successful write: ``HX-Redirect`` for HTMX (htmx follows it with a full page
    load), a plain redirect otherwise."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
