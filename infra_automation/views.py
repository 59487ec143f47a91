"""Site-wide views: error pages in the site layout (never a traceback)."""

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No request context: the failure may have come from a context processor or the database.
    return HttpResponseServerError(loader.get_template("500.html").render())


def coming_soon(request, title, issue):
    """A page whose feature is not built yet says so plainly (and which issue brings it)."""
    return render(request, "coming_soon.html", {"title": title, "issue": issue})
