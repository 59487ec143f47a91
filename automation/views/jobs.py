"""Jobs pages: launch, list (keyset pages), live details with console, cancel, relaunch."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from auditing.services import mask_secrets
from automation.forms.jobs import JobFilterForm, JobLaunchForm, initial_from_query
from automation.selectors.jobs import (
    MAX_LINE,
    WINDOW,
    job_console,
    job_console_text,
    job_get,
    job_list,
    job_previous_revision,
)
from automation.services.jobs import job_cancel, job_launch, job_relaunch
from core.forms import ascii_int
from core.htmx import redirect_after_post
from core.pagination import KeysetPage

STOP_POLLING = 286  # htmx stops polling on this status


def job_new(request):
    form = JobLaunchForm(
        request.POST or None, user=request.user, initial=initial_from_query(request.GET)
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = job_launch(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(job)
    return render(request, "automation/job_form.html", {"form": form})


@vary_on_headers("HX-Request")
def job_list_view(request):
    form = JobFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        page = KeysetPage(rows=[], newer=None, older=None)  # the form says what is wrong
    else:
        page = job_list(**(form.cleaned_data if form.is_bound else {}))
    context = {"form": form, "page": page, "jobs": page.rows, "next_cursor": page.older or ""}
    return render(request, "automation/job_list.html", context)


def job_row(request, job_id):
    """One row of the list, polled while the job is live (the finished row stops polling)."""
    return render(request, "automation/partials/job_row.html", {"job": job_get(job_id=job_id)})


def _host_param(request):
    """``?host=``: show only the console lines about that host ('' for all)."""
    return request.GET.get("host", "").strip()[:255]


def job_detail(request, job_id):
    job = job_get(job_id=job_id)
    start = ascii_int(request.GET.get("from"), maximum=MAX_LINE)
    host = _host_param(request)
    window = job_console(job=job, start=start, host=host)
    context = {
        "job": job,
        "host": host,
        "lines": window,
        "extra_vars": mask_secrets(job.extra_vars),
        "previous_revision": job_previous_revision(job=job),
        "first_line": window[0].line_number if window else 0,
        "first_error_from": max(1, (job.first_error_line or 1) - 20),
        # A window opened at ?from= may have lines after it: fetch them once it is shown.
        "more_after": start is not None and len(window) == WINDOW,
        "last_line": window[-1].line_number if window else 0,
    }
    return render(request, "automation/job_detail.html", context)


def job_log(request, job_id):
    """Console lines for HTMX: ``after=<n>`` (new lines, polled) or ``before=<n>`` (earlier
    lines). A finished job with nothing left to send answers 286 so polling stops."""
    job = job_get(job_id=job_id)
    host = _host_param(request)
    before = ascii_int(request.GET.get("before"), maximum=MAX_LINE)
    if before is not None:
        window = job_console(job=job, before=before, host=host)
        context = {"job": job, "lines": window, "host": host}
        return render(request, "automation/partials/job_log_earlier.html", context)
    after = ascii_int(request.GET.get("after"), maximum=MAX_LINE) or 0
    window = job_console(job=job, after=after, host=host)
    finished = job.is_finished and len(window) < WINDOW
    context = {
        "job": job,
        "host": host,
        "lines": window,
        "last_line": window[-1].line_number if window else after,
        "finished": finished,
    }
    response = render(request, "automation/partials/job_log_lines.html", context)
    if finished:
        response.status_code = STOP_POLLING
    return response


def job_download(request, job_id):
    job = job_get(job_id=job_id)
    text = job_console_text(job=job)
    response = StreamingHttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.job_id}.log"'
    return response


@require_POST
def job_cancel_view(request, job_id):
    job = job_get(job_id=job_id)
    if job_cancel(job=job, user=request.user):
        messages.success(request, "Cancel requested." if job.is_live else "Job cancelled.")
    else:
        messages.info(request, "The job had already finished.")
    return redirect_after_post(request, job.get_absolute_url())


@require_POST
def job_relaunch_view(request, job_id):
    job = job_get(job_id=job_id)
    try:
        new = job_relaunch(job=job, user=request.user, latest=request.POST.get("latest") == "1")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect_after_post(request, job.get_absolute_url())
    messages.success(request, f"Relaunched as job {new.job_id}.")
    return redirect_after_post(request, new.get_absolute_url())
