"""Playbooks pages: list, create/upload, view, edit/replace, delete/undelete, history, diff."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from automation.diff import side_by_side, stats
from automation.forms.playbooks import (
    HistoryFilterForm,
    PlaybookForm,
    PlaybookReplaceForm,
    PlaybookUploadForm,
)
from automation.highlight import highlight_yaml
from automation.models import PlaybookVersion
from automation.selectors.playbooks import (
    playbook_choices,
    playbook_get,
    playbook_history,
    playbook_list,
    playbook_version_diff,
    playbook_version_get,
    playbook_versions,
)
from automation.services.playbooks import (
    EditConflict,
    NameTaken,
    playbook_create,
    playbook_restore,
    playbook_set_active,
    playbook_update,
)
from automation.storage import NotSaved, sha256_text
from core.access import admin_required

# A browser never fills a file input again: say so when an upload could not be stored.
CHOOSE_AGAIN = "Choose the file again once the disk can take it."


def _saved(request, form, message):
    """Say that a save worked, then what the checks found worth knowing (missing files):
    warnings never stop a save."""
    messages.success(request, message)
    for warning in form.warnings:
        messages.warning(request, warning)


def playbook_list_view(request):
    q = request.GET.get("q", "").strip()[:255]
    state = request.GET.get("state", "active")
    page = Paginator(playbook_list(q=q, state=state), 25).get_page(request.GET.get("page"))
    return render(request, "automation/playbook_list.html", {"page": page, "q": q, "state": state})


@admin_required
def playbook_new(request):
    form = PlaybookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            playbook = playbook_create(
                name=data["name"],
                description=data["description"],
                content=data["content"],
                user=request.user,
            )
        except NameTaken as exc:
            form.add_error("name", str(exc))
        except NotSaved as exc:
            form.add_error(None, f"{exc} Your text is kept below.")
        else:
            _saved(request, form, f"Playbook {playbook.name} created.")
            return redirect(playbook)
    return render(request, "automation/playbook_form.html", {"form": form})


@admin_required
def playbook_upload(request):
    form = PlaybookUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            playbook = playbook_create(
                name=data["name"],
                description=data["description"],
                content=data["file"],
                user=request.user,
                action=PlaybookVersion.Action.UPLOADED,
            )
        except NameTaken as exc:
            form.add_error("name", str(exc))
        except NotSaved as exc:
            form.add_error(None, f"{exc} {CHOOSE_AGAIN}")
        else:
            _saved(request, form, f"Playbook {playbook.name} uploaded.")
            return redirect(playbook)
    return render(request, "automation/playbook_upload.html", {"form": form})


def playbook_detail(request, pk):
    playbook = playbook_get(pk=pk)
    content = playbook.read_content()
    context = {
        "playbook": playbook,
        "highlighted": highlight_yaml(content),
        "sha256": sha256_text(content),
        "lines": len(content.splitlines()),
        "missing_file": playbook.missing_file_message,
    }
    if playbook.in_project:
        context["snapshot"] = playbook.project.current_snapshot
    return render(request, "automation/playbook_detail.html", context)


def _in_project_or_none(request, playbook):
    """A project playbook changes in its repository (or archive), then a sync: not here."""
    if playbook.in_project:
        messages.error(
            request,
            f"Playbook {playbook.name} comes from project {playbook.project.name}: change it "
            "in the project's source, then sync the project.",
        )
        return redirect(playbook)
    return None


def _active_or_redirect(request, playbook):
    if response := _in_project_or_none(request, playbook):
        return response
    if not playbook.is_active:
        messages.error(request, f"Playbook {playbook.name} is deleted: undelete it first.")
        return redirect(playbook)
    return None


@admin_required
def playbook_edit(request, pk):
    playbook = playbook_get(pk=pk)
    if response := _active_or_redirect(request, playbook):
        return response
    form = PlaybookForm.editing(playbook, request.POST or None)
    conflict = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            playbook_update(
                playbook=playbook,
                user=request.user,
                content=data["content"],
                base_fingerprint=data["base_fingerprint"] or None,
                name=data["name"],
                description=data["description"],
            )
        except EditConflict as exc:
            conflict = _conflict(form, exc, data)
        except NameTaken as exc:
            form.add_error("name", str(exc))
        except NotSaved as exc:
            form.add_error(None, f"{exc} Your text is kept below.")
        else:
            _saved(request, form, f"Playbook {data['name']} saved.")
            return redirect(playbook)
    context = {"form": form, "playbook": playbook, "conflict": conflict}
    return render(request, "automation/playbook_form.html", context)


def _conflict(form, newer, mine):
    """Keep the user's input, move the form's base to the newer version (a deliberate second
    save then overwrites it), and return what differs between the newer version and the
    user's input: the name and description side by side, the content as a diff."""
    data = form.data.copy()
    data["base_fingerprint"] = newer.fingerprint
    form.data = data
    form.add_error(
        None,
        "Someone saved a newer version while you were editing. Your input is "
        "kept below; review the differences, then save again to replace it.",
    )
    fields = [
        (label, theirs, mine[name])
        for label, name, theirs in (
            ("Name", "name", newer.current_name),
            ("Description", "description", newer.current_description),
        )
        if theirs != mine[name]
    ]
    content_differs = newer.current_content != mine["content"]
    return {
        "fields": fields,
        "rows": side_by_side(newer.current_content, mine["content"]) if content_differs else [],
    }


@admin_required
def playbook_replace(request, pk):
    playbook = playbook_get(pk=pk)
    if response := _active_or_redirect(request, playbook):
        return response
    form = PlaybookReplaceForm.replacing(playbook, request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            playbook_update(
                playbook=playbook,
                user=request.user,
                content=form.cleaned_data["file"],
                base_sha256=form.cleaned_data["base_sha256"] or None,
                action=PlaybookVersion.Action.REPLACED,
            )
        except EditConflict:
            form.add_error(
                None,
                "The playbook changed since this page was loaded. Nothing was "
                "replaced: reload the page and upload again.",
            )
        except NotSaved as exc:
            form.add_error(None, f"{exc} {CHOOSE_AGAIN}")
        else:
            _saved(request, form, f"Playbook {playbook.name} replaced.")
            return redirect(playbook)
    context = {"form": form, "playbook": playbook}
    return render(request, "automation/playbook_upload.html", context)


@admin_required
def playbook_delete(request, pk):
    playbook = playbook_get(pk=pk)
    if response := _in_project_or_none(request, playbook):
        return response
    if request.method != "POST":
        return render(request, "automation/playbook_confirm_delete.html", {"playbook": playbook})
    playbook_set_active(playbook=playbook, user=request.user, active=False)
    messages.success(
        request, f"Playbook {playbook.name} deleted. Its history is kept; it can be undeleted."
    )
    return redirect("playbook_list")


@admin_required
@require_POST
def playbook_undelete(request, pk):
    playbook = playbook_get(pk=pk)
    if response := _in_project_or_none(request, playbook):
        return response
    playbook = playbook_set_active(playbook=playbook, user=request.user, active=True)
    messages.success(request, f"Playbook {playbook.name} undeleted.")
    return redirect(playbook)


def playbook_history_view(request, pk):
    playbook = playbook_get(pk=pk)
    page = Paginator(playbook_versions(playbook_id=pk), 25).get_page(request.GET.get("page"))
    return render(request, "automation/playbook_history.html", {"playbook": playbook, "page": page})


def _version_id(raw):
    """A version id from the query string (None when absent); 404 for anything else."""
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("Not a version id.") from None


def playbook_diff(request, pk):
    diff = playbook_version_diff(
        playbook_id=pk,
        to_id=_version_id(request.GET.get("to")),
        from_id=_version_id(request.GET.get("from")),
    )
    rows = side_by_side(diff.base.new_content if diff.base else "", diff.to.new_content)
    added, removed = stats(rows)
    context = {
        "playbook": diff.playbook,
        "playbook_id": pk,
        "base": diff.base,
        "to": diff.to,
        "rows": rows,
        "added": added,
        "removed": removed,
        "choices": diff.choices,
    }
    return render(request, "automation/playbook_diff.html", context)


@admin_required
@require_POST
def playbook_restore_view(request, pk, version_id):
    playbook = playbook_get(pk=pk)
    version = playbook_version_get(playbook_id=pk, version_id=version_id)
    if response := _active_or_redirect(request, playbook):
        return response
    try:
        playbook_restore(playbook=playbook, version=version, user=request.user)
    except NotSaved as exc:
        messages.error(request, f"Version #{version.pk} was not restored. {exc}")
    else:
        messages.success(request, f"Version #{version.pk} of {playbook.name} restored.")
    return redirect("playbook_history", pk=pk)


def playbook_history_all(request):
    form = HistoryFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        entries = []  # the form says what is wrong; no rows
    else:
        entries = playbook_history(**(form.cleaned_data if form.is_bound else {}))
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "playbooks": playbook_choices()}
    return render(request, "automation/playbook_history_all.html", context)
