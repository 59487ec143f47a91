"""Project pages: list, create and edit (admins), detail with syncs and snapshots, a sync's live
log, a revision's files and the comparison of two revisions."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from automation.forms.projects import ProjectForm
from automation.highlight import highlight_yaml
from automation.models import ProjectSnapshot
from automation.selectors.projects import (
    SYNC_WINDOW,
    live_sync,
    project_get,
    project_list,
    project_playbooks,
    project_snapshots,
    project_syncs,
    public_url,
    snapshot_compare,
    snapshot_file_text,
    snapshot_files,
    snapshot_get,
    sync_get,
    sync_lines,
    sync_text,
)
from automation.services.projects import (
    project_create,
    project_set_active,
    project_sync_cancel,
    project_sync_launch,
    project_update,
)
from core.access import admin_required
from core.forms import ascii_int
from core.htmx import redirect_after_post

STOP_POLLING = 286
MAX_LINE = 2**31 - 1


def project_list_view(request):
    state = request.GET.get("state", "active")
    if state not in ("active", "deleted", "all"):
        state = "active"
    return render(
        request,
        "automation/project_list.html",
        {"projects": project_list(state=state), "state": state},
    )


def _save(request, form, project=None):
    """Create or update from a valid form; the error (if any) goes on the form."""
    data = form.cleaned_data
    fields = {
        "name": data["name"],
        "description": data["description"],
        "url": data.get("url", ""),
        "ref": data.get("ref", ""),
        "key_path": data.get("key_path", ""),
        "credential": data.get("credential"),
        "archive": data.get("archive") or None,
    }
    try:
        if project is None:
            return project_create(user=request.user, kind=data["kind"], **fields)
        return project_update(project=project, user=request.user, **fields)
    except ValidationError as exc:
        form.add_error(None, exc)
        return None


@admin_required
def project_new(request):
    form = ProjectForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        project = _save(request, form)
        if project is not None:
            messages.success(request, f"Project {project.name} created; its first sync started.")
            return redirect(project.get_absolute_url())
    return render(request, "automation/project_form.html", {"form": form, "project": None})


@admin_required
def project_edit(request, pk):
    project = project_get(pk=pk)
    if request.method == "POST":
        form = ProjectForm.editing(project, request.POST, request.FILES)
        if form.is_valid():
            saved = _save(request, form, project)
            if saved is not None:
                messages.success(request, f"Project {saved.name} saved.")
                return redirect(saved.get_absolute_url())
    else:
        form = ProjectForm.editing(project)
    return render(request, "automation/project_form.html", {"form": form, "project": project})


def project_detail(request, pk):
    project = project_get(pk=pk)
    context = {
        "project": project,
        "url": public_url(project.url),
        "snapshot": project.current_snapshot,
        "playbooks": project_playbooks(project=project),
        "syncs": project_syncs(project=project),
        "snapshots": project_snapshots(project=project),
        "live_sync": live_sync(project=project),
    }
    return render(request, "automation/project_detail.html", context)


@admin_required
@require_POST
def project_sync_view(request, pk):
    project = project_get(pk=pk)
    try:
        sync = project_sync_launch(project=project, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect_after_post(request, project.get_absolute_url())
    return redirect_after_post(request, sync.get_absolute_url())


@admin_required
@require_POST
def project_delete(request, pk):
    project = project_get(pk=pk)
    project_set_active(project=project, user=request.user, active=False)
    messages.success(request, f"Project {project.name} deleted; its playbooks no longer launch.")
    return redirect("project_list")


@admin_required
@require_POST
def project_undelete(request, pk):
    project = project_get(pk=pk)
    project_set_active(project=project, user=request.user, active=True)
    messages.success(
        request, f"Project {project.name} restored; sync it to bring its playbooks back."
    )
    return redirect(project.get_absolute_url())


def sync_detail(request, sync_id):
    sync = sync_get(sync_id=sync_id)
    lines = sync_lines(sync=sync)
    context = {
        "sync": sync,
        "lines": lines,
        "last_line": lines[-1].line_number if lines else 0,
        "more": len(lines) == SYNC_WINDOW,
    }
    return render(request, "automation/sync_detail.html", context)


def sync_log(request, sync_id):
    """New lines for HTMX (``after=<n>``); 286 once the sync ended and all lines were sent."""
    sync = sync_get(sync_id=sync_id)
    after = ascii_int(request.GET.get("after"), maximum=MAX_LINE) or 0
    lines = sync_lines(sync=sync, after=after)
    finished = sync.is_finished and len(lines) < SYNC_WINDOW
    context = {
        "sync": sync,
        "lines": lines,
        "last_line": lines[-1].line_number if lines else after,
        "finished": finished,
    }
    response = render(request, "automation/partials/sync_log_lines.html", context)
    if finished:
        response.status_code = STOP_POLLING
    return response


def sync_download(request, sync_id):
    sync = sync_get(sync_id=sync_id)
    response = StreamingHttpResponse(sync_text(sync=sync), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sync-{sync.sync_id}.log"'
    return response


@admin_required
@require_POST
def sync_cancel_view(request, sync_id):
    sync = sync_get(sync_id=sync_id)
    if project_sync_cancel(sync=sync, user=request.user):
        messages.success(request, "Cancel requested.")
    else:
        messages.info(request, "The sync had already finished.")
    return redirect_after_post(request, sync.get_absolute_url())


def project_revision(request, pk, revision):
    project = project_get(pk=pk)
    snapshot = snapshot_get(project=project, revision=revision)
    path = request.GET.get("file", "")[:1000]
    context = {
        "project": project,
        "snapshot": snapshot,
        "files": snapshot_files(snapshot),
        "path": path,
        "content": None,
    }
    if path:
        text = snapshot_file_text(snapshot, path)
        is_yaml = path.endswith((".yml", ".yaml"))
        context["content"] = highlight_yaml(text) if is_yaml else None
        context["text"] = text
    return render(request, "automation/project_revision.html", context)


def _snapshot_param(project, value):
    value = (value or "").strip()[:64]
    if not value:
        return None
    snapshot = ProjectSnapshot.objects.filter(project=project, revision=value).first()
    if snapshot is None:
        raise Http404("No such revision in this project.")
    return snapshot


def project_compare(request, pk):
    """Two revisions of a project, file by file. Default: the two most recent."""
    project = project_get(pk=pk)
    recent = list(project_snapshots(project=project))
    base = _snapshot_param(project, request.GET.get("from"))
    to = _snapshot_param(project, request.GET.get("to"))
    if to is None:
        to = recent[0] if recent else None
    if base is None and to is not None:
        base = next((s for s in recent if s.synced_at < to.synced_at), None)
    changes = snapshot_compare(base, to) if base and to else []
    context = {
        "project": project,
        "base": base,
        "to": to,
        "choices": recent,
        "changes": changes,
    }
    return render(request, "automation/project_compare.html", context)
