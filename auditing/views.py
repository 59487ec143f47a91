"""The audit log page and its CSV export (admins and super_admins; read-only by design)."""

import csv

from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from auditing.forms import AuditFilterForm
from auditing.queries import attach_links, csv_rows, describe
from core.access import admin_required
from core.pagination import keyset_page


@admin_required
@require_GET
@vary_on_headers("HX-Request")
def audit_list(request):
    form = AuditFilterForm(request.GET)
    page = None
    if form.is_valid():
        data = form.cleaned_data
        page = keyset_page(form.queryset(), before=data["before"], after=data["after"])
        for row in attach_links(page.rows):
            row.lines = describe(row.details)
    context = {"form": form, "page": page, "title": "Audit log"}
    if request.htmx:
        # htmx does not swap 4xx answers: the partial with the filter errors comes as a 200.
        return render(request, "auditing/partials/audit_table.html", context)
    return render(request, "auditing/audit_list.html", context, status=200 if page else 400)


class _Echo:
    """A file-like object whose write returns the line: csv.writer feeds the stream with it."""

    def write(self, value):
        return value


@admin_required
@require_GET
def audit_export(request):
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{label}: {message}" for label, message in form.error_lines())
        return HttpResponseBadRequest(f"Bad filter: {errors}", content_type="text/plain")
    writer = csv.writer(_Echo())
    rows = csv_rows(form.queryset(), timezone.get_current_timezone())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
