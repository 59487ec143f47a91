"""Playbooks pages: list, create/upload, view, edit/replace, delete/undelete, history, diff."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from auditing.models import PlaybookAuditLog
from automation import services
from automation.diff import side_by_side, stats
from automation.forms_playbooks import (
    HistoryFilterForm,
    PlaybookForm,
    PlaybookReplaceForm,
    PlaybookUploadForm,
)
from automation.highlight import highlight_yaml
from automation.models import Job, Playbook
from core.access import admin_required

# List pages never load the (possibly large) contents of history rows.
HISTORY_LIST_FIELDS = ("old_content", "new_content")


def playbook_list(request):
    q = request.GET.get("q", "").strip()[:255]
    state = request.GET.get("state", "active")
    playbooks = Playbook.objects.all()
    if state in ("active", "deleted"):
        playbooks = playbooks.filter(is_active=(state == "active"))
    if q:
        playbooks = playbooks.filter(Q(name__icontains=q) | Q(description__icontains=q))
    history = PlaybookAuditLog.objects.filter(playbook_id=OuterRef("pk")).order_by("-id")
    jobs = Job.objects.filter(playbook=OuterRef("pk"))
    playbooks = playbooks.annotate(
        last_change_at=Subquery(history.values("created_at")[:1]),
        last_change_by=Subquery(history.values("user__username")[:1]),
        last_run_status=Subquery(jobs.order_by("-created_at").values("status")[:1]),
        run_count=Subquery(
            jobs.order_by().values("playbook").annotate(n=Count("id")).values("n")[:1]
        ),
    ).order_by("name")
    page = Paginator(playbooks, 25).get_page(request.GET.get("page"))
    return render(request, "automation/playbook_list.html", {"page": page, "q": q, "state": state})


@admin_required
def playbook_create(request):
    form = PlaybookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            playbook = services.playbook_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                content=form.cleaned_data["content"],
                user=request.user,
            )
        except services.NameTaken as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Playbook {playbook.name} created.")
            return redirect("playbook_detail", pk=playbook.pk)
    return render(request, "automation/playbook_form.html", {"form": form})


@admin_required
def playbook_upload(request):
    form = PlaybookUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            playbook = services.playbook_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                content=form.cleaned_data["file"],
                user=request.user,
                action=PlaybookAuditLog.Action.UPLOADED,
            )
        except services.NameTaken as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Playbook {playbook.name} uploaded.")
            return redirect("playbook_detail", pk=playbook.pk)
    return render(request, "automation/playbook_upload.html", {"form": form})


def playbook_detail(request, pk):
    playbook = get_object_or_404(Playbook, pk=pk)
    content = playbook.read_content()
    return render(
        request,
        "automation/playbook_detail.html",
        {
            "playbook": playbook,
            "highlighted": highlight_yaml(content),
            "sha256": services.sha256_text(content),
            "lines": len(content.splitlines()),
        },
    )


def _active_or_redirect(request, playbook):
    if not playbook.is_active:
        messages.error(request, f"Playbook {playbook.name} is deleted: undelete it first.")
        return redirect("playbook_detail", pk=playbook.pk)
    return None


@admin_required
def playbook_edit(request, pk):
    playbook = get_object_or_404(Playbook, pk=pk)
    if response := _active_or_redirect(request, playbook):
        return response
    current = playbook.read_content()
    initial = {
        "name": playbook.name,
        "description": playbook.description,
        "content": current,
        "base_sha256": services.sha256_text(current),
    }
    form = PlaybookForm(request.POST or None, initial=initial, instance_pk=playbook.pk)
    conflict = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.playbook_update(
                playbook=playbook,
                user=request.user,
                content=data["content"],
                base_sha256=data["base_sha256"] or None,
                name=data["name"],
                description=data["description"],
            )
        except services.EditConflict as exc:
            conflict = _conflict(form, exc.current_content, data["content"])
        except services.NameTaken as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Playbook {data['name']} saved.")
            return redirect("playbook_detail", pk=playbook.pk)
    return render(
        request,
        "automation/playbook_form.html",
        {"form": form, "playbook": playbook, "conflict": conflict},
    )


def _conflict(form, newer, mine):
    """Keep the user's text, move the form's base to the newer version (a deliberate second
    save then overwrites it), and return the diff from the newer version to the user's text."""
    data = form.data.copy()
    data["base_sha256"] = services.sha256_text(newer)
    form.data = data
    form.add_error(
        None,
        "Someone saved a newer version while you were editing. Your text is "
        "kept below; review the differences, then save again to replace it.",
    )
    return side_by_side(newer, mine)


@admin_required
def playbook_replace(request, pk):
    playbook = get_object_or_404(Playbook, pk=pk)
    if response := _active_or_redirect(request, playbook):
        return response
    base = services.sha256_text(playbook.read_content())
    form = PlaybookReplaceForm(
        request.POST or None, request.FILES or None, initial={"base_sha256": base}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.playbook_update(
                playbook=playbook,
                user=request.user,
                content=form.cleaned_data["file"],
                base_sha256=form.cleaned_data["base_sha256"] or None,
                action=PlaybookAuditLog.Action.REPLACED,
            )
        except services.EditConflict:
            form.add_error(
                None,
                "The playbook changed since this page was loaded. Nothing was "
                "replaced: reload the page and upload again.",
            )
        else:
            messages.success(request, f"Playbook {playbook.name} replaced.")
            return redirect("playbook_detail", pk=playbook.pk)
    return render(request, "automation/playbook_upload.html", {"form": form, "playbook": playbook})


@admin_required
def playbook_delete(request, pk):
    playbook = get_object_or_404(Playbook, pk=pk)
    if request.method != "POST":
        return render(request, "automation/playbook_confirm_delete.html", {"playbook": playbook})
    services.playbook_delete(playbook=playbook, user=request.user)
    messages.success(
        request, f"Playbook {playbook.name} deleted. Its history is kept; it can be undeleted."
    )
    return redirect("playbook_list")


@admin_required
@require_POST
def playbook_undelete(request, pk):
    playbook = get_object_or_404(Playbook, pk=pk)
    services.playbook_undelete(playbook=playbook, user=request.user)
    messages.success(request, f"Playbook {playbook.name} undeleted.")
    return redirect("playbook_detail", pk=pk)


def playbook_history(request, pk):
    playbook = get_object_or_404(Playbook, pk=pk)
    versions = (
        PlaybookAuditLog.objects.filter(playbook_id=pk)
        .select_related("user")
        .defer(*HISTORY_LIST_FIELDS)
        .order_by("-id")
    )
    page = Paginator(versions, 25).get_page(request.GET.get("page"))
    return render(request, "automation/playbook_history.html", {"playbook": playbook, "page": page})


def _version(pk, raw_id):
    """A history row of playbook ``pk`` from a query-string id; 404 for anything else."""
    try:
        version_id = int(raw_id)
    except (TypeError, ValueError):
        raise Http404("Not a version id.") from None
    return get_object_or_404(PlaybookAuditLog, pk=version_id, playbook_id=pk)


def playbook_diff(request, pk):
    versions = PlaybookAuditLog.objects.filter(playbook_id=pk)
    if not versions.exists():
        raise Http404("No history for this playbook.")
    raw_to, raw_from = request.GET.get("to"), request.GET.get("from")
    to = _version(pk, raw_to) if raw_to else versions.order_by("-id").first()
    if raw_from:
        base = _version(pk, raw_from)
    else:
        base = versions.filter(id__lt=to.id).order_by("-id").first()
    rows = side_by_side(base.new_content if base else "", to.new_content)
    added, removed = stats(rows)
    return render(
        request,
        "automation/playbook_diff.html",
        {
            "playbook": Playbook.objects.filter(pk=pk).first(),
            "playbook_id": pk,
            "base": base,
            "to": to,
            "rows": rows,
            "added": added,
            "removed": removed,
            "choices": versions.select_related("user")
            .defer(*HISTORY_LIST_FIELDS)
            .order_by("-id")[:200],
        },
    )


@admin_required
@require_POST
def playbook_restore(request, pk, version_id):
    playbook = get_object_or_404(Playbook, pk=pk)
    version = get_object_or_404(PlaybookAuditLog, pk=version_id, playbook_id=pk)
    if response := _active_or_redirect(request, playbook):
        return response
    services.playbook_restore(playbook=playbook, version=version, user=request.user)
    messages.success(request, f"Version #{version.pk} of {playbook.name} restored.")
    return redirect("playbook_history", pk=pk)


def playbook_history_all(request):
    form = HistoryFilterForm(request.GET or None)
    entries = (
        PlaybookAuditLog.objects.select_related("user").defer(*HISTORY_LIST_FIELDS).order_by("-id")
    )
    if form.is_bound and form.is_valid():
        entries = form.filter(entries)
    elif form.is_bound:
        entries = entries.none()
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "automation/playbook_history_all.html",
        {
            "form": form,
            "page": page,
            "playbooks": Playbook.objects.order_by("name").values_list("pk", "name"),
        },
    )
