"""Answers shared by views that serve both HTMX and plain requests."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every request of this site)."""

    htmx: HtmxDetails


def render_partial_or_page(
    request: HtmxHttpRequest, partial: str, page: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """One fragment, two entry points: an HTMX request gets ``partial`` alone, a plain one
    ``page`` (which includes the partial). Views using it send ``Vary: HX-Request``."""
    return render(request, partial if request.htmx else page, context, status=status)


def redirect_after_post(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """After a successful write: ``HX-Redirect`` for HTMX (htmx follows it with a full page
    load), a plain redirect otherwise."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
