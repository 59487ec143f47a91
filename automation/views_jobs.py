"""Jobs pages: launch, list (keyset pages), live details with console, cancel, relaunch."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from auditing.services import mask_secrets
from automation import logs
from automation.forms_jobs import JobFilterForm, JobLaunchForm, initial_from_query
from automation.models import Job
from automation.services_jobs import job_cancel, job_launch, job_relaunch
from core.forms import ascii_int
from core.htmx import redirect_after_post
from core.pagination import keyset_page

PAGE_SIZE = 50
# Read in a second query after the page's ids: joined in one, MariaDB starts from servers and
# sorts every job (48 s at 440k jobs).
RELATED = ("playbook", "server", "user")
STOP_POLLING = 286  # htmx stops polling on this status


def _job(job_id):
    return get_object_or_404(
        Job.objects.select_related("playbook", "server", "user"), job_id=job_id
    )


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
            return redirect("job_detail", job_id=job.job_id)
    return render(request, "automation/job_form.html", {"form": form})


@vary_on_headers("HX-Request")
def job_list(request):
    """Newest first, 50 a page, keyset cursor on (created_at, id): no COUNT(*) and no OFFSET,
    so page 1,000 costs what page 1 costs."""
    form = JobFilterForm(request.GET or None)
    jobs = Job.objects.all()
    valid = form.is_bound and form.is_valid()
    if valid:
        jobs = form.filter(jobs)
    elif form.is_bound:
        jobs = jobs.none()
    cursors = {name: form.cleaned_data.get(name) for name in ("before", "after")} if valid else {}
    page = keyset_page(jobs, keys=("created_at", "id"), size=PAGE_SIZE, related=RELATED, **cursors)
    return render(
        request,
        "automation/job_list.html",
        {"form": form, "page": page, "jobs": page.rows, "next_cursor": page.older or ""},
    )


def job_row(request, job_id):
    """One row of the list, polled while the job is live (the finished row stops polling)."""
    return render(request, "automation/partials/job_row.html", {"job": _job(job_id)})


def job_detail(request, job_id):
    job = _job(job_id)
    start = ascii_int(request.GET.get("from"), maximum=logs.MAX_LINE)
    window = logs.lines(job, start=start) if start is not None else logs.lines(job)
    return render(
        request,
        "automation/job_detail.html",
        {
            "job": job,
            "lines": window,
            "extra_vars": mask_secrets(job.extra_vars),
            "first_line": window[0].line_number if window else 0,
            "first_error_from": max(1, (job.first_error_line or 1) - 20),
            # A window opened at ?from= may have lines after it: fetch them once it is shown.
            "more_after": start is not None and len(window) == logs.WINDOW,
            "last_line": window[-1].line_number if window else 0,
        },
    )


def job_log(request, job_id):
    """Console lines for HTMX: ``after=<n>`` (new lines, polled) or ``before=<n>`` (earlier
    lines). A finished job with nothing left to send answers 286 so polling stops."""
    job = _job(job_id)
    after = ascii_int(request.GET.get("after"), maximum=logs.MAX_LINE)
    before = ascii_int(request.GET.get("before"), maximum=logs.MAX_LINE)
    if before is not None:
        window = logs.lines(job, before=before)
        return render(
            request, "automation/partials/job_log_earlier.html", {"job": job, "lines": window}
        )
    last = after or 0
    window = logs.lines(job, after=last)
    last = window[-1].line_number if window else last
    finished = job.is_finished and len(window) < logs.WINDOW
    response = render(
        request,
        "automation/partials/job_log_lines.html",
        {"job": job, "lines": window, "last_line": last, "finished": finished},
    )
    if finished:
        response.status_code = STOP_POLLING
    return response


def job_download(request, job_id):
    job = _job(job_id)
    response = StreamingHttpResponse(logs.plain_text(job), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.job_id}.log"'
    return response


@require_POST
def job_cancel_view(request, job_id):
    job = _job(job_id)
    if job_cancel(job=job, user=request.user):
        messages.success(request, "Cancel requested." if job.is_live else "Job cancelled.")
    else:
        messages.info(request, "The job had already finished.")
    return redirect_after_post(request, job.get_absolute_url())


@require_POST
def job_relaunch_view(request, job_id):
    job = _job(job_id)
    try:
        new = job_relaunch(job=job, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect_after_post(request, job.get_absolute_url())
    messages.success(request, f"Relaunched as job {new.job_id}.")
    return redirect_after_post(request, new.get_absolute_url())
