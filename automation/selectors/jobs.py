"""Job reads: the jobs list (filters and keyset pages), one job for its page, and its console
(line windows for the page, the whole log as text for the download)."""

from collections.abc import Iterator
from datetime import date, datetime
from uuid import UUID

from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Left, Length
from django.shortcuts import get_object_or_404

from accounts.models import User
from automation.console import line_renderer, plain_text
from automation.models import Job, JobHost, JobLog, Playbook
from automation.selectors.days import within_days
from core.pagination import KeysetPage, encode_cursor, keyset_page
from inventory.models import Server

PAGE_SIZE = 50
# Console lines sent at once: the last ones on the page, then per poll or "load earlier".
WINDOW = 1000
# Largest line number a cursor may name (the column is a 32-bit positive integer).
MAX_LINE = 2**31 - 1
DOWNLOAD_CHUNK = 5000
# Text of one line sent to the page at most; a longer line is cut, with a note that the
# download has it whole. (A line may be megabytes long: it would be sent on every poll.)
LINE_SHOWN_CHARS = 4096
# Rows longer than this are left out of a download chunk's query and read a few at a time, so
# a chunk of 5,000 rows never holds more than a few MB whatever the lines' length.
DOWNLOAD_INLINE_CHARS = 1024
DOWNLOAD_LONG_ROWS = 16


def job_list(
    *,
    status: str = "",
    playbook: Playbook | None = None,
    server: Server | None = None,
    user: User | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    before: tuple[datetime, int] | None = None,
    after: tuple[datetime, int] | None = None,
    size: int = PAGE_SIZE,
) -> KeysetPage:
    """Newest first, ``size`` a page, keyset cursors on (created_at, id): ``before`` the edge of
    a newer page, ``after`` the edge of an older one. No COUNT(*) and no OFFSET, so page 1,000
    costs what page 1 costs."""
    filters = {"status": status, "playbook": playbook, "user": user}
    filters = {name: value for name, value in filters.items() if value}
    jobs = Job.objects.filter(**filters).filter(within_days("created_at", date_from, date_to))
    if server is None:
        # The page's ids from jobs alone (an index range), then those rows with their
        # relations: joined in one query, MariaDB starts from servers and sorts every job
        # (48 s at 440k jobs).
        return keyset_page(
            jobs,
            keys=("created_at", "id"),
            before=before,
            after=after,
            size=size,
            related=("playbook", "server", "user"),
        )
    return _jobs_on_server(jobs, filters, server, date_from, date_to, before, after, size)


def _jobs_on_server(jobs, filters, server, date_from, date_to, before, after, size):
    """Jobs that ran on ``server``: single-server jobs by ``jobs.server_id`` (the
    (server, created_at) index of jobs), multi-host jobs by their ``job_hosts`` rows (the
    (server, created_at, job) index of job_hosts, created_at being the job's). Each side is
    one index range read a page at a time; the two pages are merged here. Cursors are the same
    (created_at, job id) pairs on both sides."""
    single = keyset_page(
        jobs.filter(server=server),
        keys=("created_at", "id"),
        before=before,
        after=after,
        size=size,
    )
    on_hosts = JobHost.objects.filter(server=server, job__server=None).filter(
        within_days("created_at", date_from, date_to)
    )
    on_hosts = on_hosts.filter(**{f"job__{name}": value for name, value in filters.items()})
    multi = keyset_page(
        on_hosts.only("id", "job_id", "created_at"),
        keys=("created_at", "job_id"),
        before=before,
        after=after,
        size=size,
    )
    keyed = sorted(
        [(job.created_at, job.pk) for job in single.rows]
        + [(row.created_at, row.job_id) for row in multi.rows],
        reverse=True,
    )
    if after:  # the page just newer than the cursor: the oldest ``size`` of the two
        shown, more_beyond = keyed[-size:], len(keyed) > size
        newer = bool(single.newer or multi.newer or more_beyond)
        older = bool(keyed)
    else:
        shown, more_beyond = keyed[:size], len(keyed) > size
        older = bool(single.older or multi.older or more_beyond)
        newer = bool(before)
    loaded = Job.objects.select_related("playbook", "server", "user").in_bulk(
        [pk for _, pk in shown]
    )
    rows = [loaded[pk] for _, pk in shown if pk in loaded]
    return KeysetPage(
        rows=rows,
        newer=encode_cursor(shown[0]) if shown and newer else None,
        older=encode_cursor(shown[-1]) if shown and older else None,
    )


def job_get(*, job_id: UUID) -> Job:
    """The job with what its header shows (playbook, server, user); 404 when there is none."""
    return get_object_or_404(
        Job.objects.select_related(
            "playbook", "playbook__project", "project_snapshot", "server", "user"
        ),
        job_id=job_id,
    )


def job_previous_revision(*, job: Job) -> Job | None:
    """The latest earlier run of the same project playbook at another revision: what the job
    page compares this run's revision with."""
    if job.project_snapshot_id is None:
        return None
    return (
        Job.objects.filter(playbook_id=job.playbook_id, created_at__lt=job.created_at)
        .exclude(project_snapshot_id=job.project_snapshot_id)
        .exclude(project_snapshot=None)
        .select_related("project_snapshot")
        .order_by("-created_at")
        .first()
    )


def job_console(
    *,
    job: Job,
    after: int | None = None,
    before: int | None = None,
    start: int | None = None,
    limit: int = WINDOW,
    host: str = "",
) -> list[JobLog]:
    """A window of at most ``limit`` console lines, in order, by the (job, line_number) index:
    after a line, before a line, from a line, or (none given) the last ones. A line's number is
    the number of its first row; the rows continuing a long line are skipped in SQL and its
    text is read only up to ``LINE_SHOWN_CHARS``. Each line carries ``html`` (its text
    escaped, with its colours) and ``cut`` (it was longer: the download has it whole).
    ``host``: only the lines of that host's events (read along the job's line range: the
    filter is applied within one job, never across the table)."""
    rows: QuerySet[JobLog] = (
        JobLog.objects.filter(job=job, continuation=False, **({"host": host} if host else {}))
        .annotate(head=Left("content", LINE_SHOWN_CHARS + 1))
        .only("line_number", "log_level")
    )
    if after is not None:
        window = list(rows.filter(line_number__gt=after).order_by("line_number")[:limit])
    elif start is not None:
        window = list(rows.filter(line_number__gte=start).order_by("line_number")[:limit])
    elif before is not None:
        window = list(rows.filter(line_number__lt=before).order_by("-line_number")[:limit])[::-1]
    else:
        window = list(rows.order_by("-line_number")[:limit])[::-1]
    render = line_renderer()
    for line in window:
        head = line.head  # type: ignore[attr-defined]
        # For the template only:
        line.cut = len(head) > LINE_SHOWN_CHARS  # type: ignore[attr-defined]
        line.html = render(head[:LINE_SHOWN_CHARS])  # type: ignore[attr-defined]
    return window


def job_console_text(*, job: Job) -> Iterator[str]:
    """The whole console as text without colour codes, a long line joined from its rows, read
    in keyset chunks (memory stays flat; MySQL drivers buffer whole result sets, so no single
    huge query): short rows come with their chunk, long ones (up to 64 KiB each) a few at a
    time."""
    last, first = 0, True
    while True:
        chunk = list(
            JobLog.objects.filter(job=job, line_number__gt=last)
            .annotate(
                length=Length("content"),
                short=Case(
                    When(length__lte=DOWNLOAD_INLINE_CHARS, then=F("content")),
                    default=Value(None),
                ),
            )
            .order_by("line_number")
            .values_list("line_number", "continuation", "short")[:DOWNLOAD_CHUNK]
        )
        if not chunk:
            break
        long_rows = [number for number, _, short in chunk if short is None]
        contents: dict[int, str] = {}
        texts: list[str] = []
        for number, continuation, short in chunk:
            if short is None:
                if number not in contents:
                    yield "".join(texts)
                    texts = []
                    group, long_rows = (
                        long_rows[:DOWNLOAD_LONG_ROWS],
                        long_rows[DOWNLOAD_LONG_ROWS:],
                    )
                    contents = dict(
                        JobLog.objects.filter(job=job, line_number__in=group).values_list(
                            "line_number", "content"
                        )
                    )
                short = contents.pop(number)
            texts.append(_download_text(short, continuation, first))
            first = False
        yield "".join(texts)
        last = chunk[-1][0]
    if not first:
        yield "\n"


def _download_text(content: str, continuation: bool, first: bool) -> str:
    """A row as downloaded: a line break before every line but the first (a row continuing a
    line joins it), no colours, no escapes."""
    text = plain_text(content)
    return text if continuation or first else "\n" + text
