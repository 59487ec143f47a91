"""The one keyset paginator, on an id key (audit rows) and a (datetime, id) key (jobs)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from auditing.models import AuditLog
from automation.models import Job
from core.forms import epoch_micros, from_epoch_micros
from core.pagination import encode_cursor, keyset_page
from tests.factories import AuditLogFactory, JobFactory

pytestmark = pytest.mark.django_db


def walk(rows, size, **options):
    """Every page from the newest to the oldest, then back up with ``after``."""
    down, page = [], keyset_page(rows, size=size, **options)
    down.append(page)
    while page.older:
        page = keyset_page(rows, size=size, before=cursor(page.older), **options)
        down.append(page)
    up = [page]
    while page.newer:
        page = keyset_page(rows, size=size, after=cursor(page.newer), **options)
        up.append(page)
    return down, up


def cursor(text):
    parts = text.split("_")
    if len(parts) == 1:
        return int(parts[0])
    micros, pk = (int(p) for p in parts)
    return from_epoch_micros(micros), pk


def test_id_pages_walk_down_and_back_up_without_gaps():
    ids = [row.id for row in reversed(AuditLogFactory.create_batch(7))]
    down, up = walk(AuditLog.objects.filter(id__in=ids), 3)
    assert [[r.id for r in p.rows] for p in down] == [ids[0:3], ids[3:6], ids[6:]]
    assert down[0].newer is None and down[-1].older is None
    assert [[r.id for r in p.rows] for p in up][-1] == ids[0:3] and up[-1].newer is None


def test_time_pages_break_ties_by_id_and_load_relations_in_a_second_query():
    now = timezone.now()
    same = now - timedelta(minutes=1)
    jobs = [JobFactory(created_at=now), JobFactory(created_at=same), JobFactory(created_at=same)]
    jobs += [JobFactory(created_at=now - timedelta(minutes=5 + i)) for i in range(3)]
    newest_first = sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)
    options = {"keys": ("created_at", "id"), "related": ("playbook", "server", "user")}
    down, up = walk(Job.objects.all(), 2, **options)
    assert [r.id for p in down for r in p.rows] == [j.id for j in newest_first]
    assert [[r.id for r in p.rows] for p in up][-1] == [j.id for j in newest_first[:2]]
    with CaptureQueriesContext(connection) as queries:
        page = keyset_page(Job.objects.all(), size=2, **options)
        names = [(j.playbook.name, j.server.hostname) for j in page.rows]
    assert len(queries) == 2 and len(names) == 2


def test_cursors_are_digits_only():
    job = JobFactory()
    assert encode_cursor((job.created_at, job.pk)) == f"{epoch_micros(job.created_at)}_{job.pk}"
    assert encode_cursor((42,)) == "42"
