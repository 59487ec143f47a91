"""Playbook reads: the playbooks list, one playbook, its versions (history pages) and the two
versions a diff compares."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from automation.models import Job, Playbook, PlaybookVersion
from automation.selectors.days import within_days

# List pages never load the (possibly large) contents of history rows.
HISTORY_LIST_FIELDS = ("old_content", "new_content")
# Versions offered in the diff page's "from" and "to" menus.
DIFF_CHOICES = 200


def playbook_list(*, q: str = "", state: str = "active") -> QuerySet[Playbook]:
    """Playbooks by name with their last change (when, who), last run status and run count.
    ``state`` is active, deleted or anything else for all; ``q`` searches name and description."""
    playbooks = Playbook.objects.all()
    if state in ("active", "deleted"):
        playbooks = playbooks.filter(is_active=(state == "active"))
    if q:
        playbooks = playbooks.filter(Q(name__icontains=q) | Q(description__icontains=q))
    history = PlaybookVersion.objects.filter(playbook_id=OuterRef("pk")).order_by("-id")
    jobs = Job.objects.filter(playbook=OuterRef("pk"))
    return playbooks.annotate(
        last_change_at=Subquery(history.values("created_at")[:1]),
        last_change_by=Subquery(history.values("username")[:1]),
        last_run_status=Subquery(jobs.order_by("-created_at").values("status")[:1]),
        run_count=Subquery(
            jobs.order_by().values("playbook").annotate(n=Count("id")).values("n")[:1]
        ),
    ).order_by("name")


def playbook_get(*, pk: int) -> Playbook:
    """The playbook, deleted ones included; 404 when there is none."""
    return get_object_or_404(Playbook, pk=pk)


def playbook_name_taken(*, name: str, exclude_pk: int | None = None) -> bool:
    """Whether another playbook (deleted ones included) has this name, whatever its case."""
    clash = Playbook.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    return clash.exists()


def playbook_choices() -> QuerySet:
    """(pk, name) of every playbook, deleted ones included, by name: the history filter's menu."""
    return Playbook.objects.order_by("name").values_list("pk", "name")


def playbook_versions(*, playbook_id: int) -> QuerySet[PlaybookVersion]:
    """A playbook's versions, newest first, without their contents."""
    return (
        PlaybookVersion.objects.filter(playbook_id=playbook_id)
        .select_related("user")
        .defer(*HISTORY_LIST_FIELDS)
        .order_by("-id")
    )


def playbook_version_get(*, playbook_id: int, version_id: int) -> PlaybookVersion:
    """A version of this playbook; 404 for a version of another one, or none."""
    return get_object_or_404(PlaybookVersion, pk=version_id, playbook_id=playbook_id)


def playbook_history(
    *,
    playbook: int | None = None,
    user: User | None = None,
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[PlaybookVersion]:
    """Changes of all playbooks (deleted ones too), newest first, without their contents."""
    entries = (
        PlaybookVersion.objects.select_related("user").defer(*HISTORY_LIST_FIELDS).order_by("-id")
    )
    filters = {"playbook_id": playbook, "user": user, "action": action}
    entries = entries.filter(**{name: value for name, value in filters.items() if value})
    return entries.filter(within_days("created_at", date_from, date_to))


@dataclass
class VersionDiff:
    """What the diff page compares: ``base`` (None: the empty text before the first version)
    against ``to``, and the versions its menus offer."""

    playbook: Playbook | None  # None once the playbook row is gone; its history stays
    base: PlaybookVersion | None
    to: PlaybookVersion
    choices: QuerySet[PlaybookVersion]


def playbook_version_diff(
    *, playbook_id: int, to_id: int | None = None, from_id: int | None = None
) -> VersionDiff:
    """``to`` (default: the latest version) against ``from`` (default: the version before
    ``to``). 404 when the playbook has no history or an id is not one of its versions."""
    versions = PlaybookVersion.objects.filter(playbook_id=playbook_id)
    if not versions.exists():
        raise Http404("No history for this playbook.")
    latest = versions.order_by("-id").first()
    if to_id is not None:
        to = playbook_version_get(playbook_id=playbook_id, version_id=to_id)
    elif latest is not None:
        to = latest
    else:  # the last version was deleted between the two queries
        raise Http404("No history for this playbook.")
    base: PlaybookVersion | None
    if from_id is not None:
        base = playbook_version_get(playbook_id=playbook_id, version_id=from_id)
    else:
        base = versions.filter(id__lt=to.id).order_by("-id").first()
    return VersionDiff(
        playbook=Playbook.objects.filter(pk=playbook_id).first(),
        base=base,
        to=to,
        choices=playbook_versions(playbook_id=playbook_id)[:DIFF_CHOICES],
    )


def launchable_playbooks() -> QuerySet[Playbook]:
    """Playbooks the launch form offers: single-file ones, and those of active projects that
    have a current snapshot."""
    return Playbook.objects.filter(is_active=True).filter(
        Q(project=None) | Q(project__is_active=True, project__current_snapshot__isnull=False)
    )
