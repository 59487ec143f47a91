"""purge_audit_logs: a 1-year compliance minimum, --force, and its own run kept on record."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from auditing.models import AuditLog
from tests.factories import AuditLogFactory
from tests.maintenance.helpers import backdate

pytestmark = pytest.mark.django_db


def purge(*args, **options):
    out = StringIO()
    call_command("purge_audit_logs", *args, stdout=out, **options)
    return out.getvalue()


def make_rows(count, *, days_old=0):
    rows = AuditLogFactory.create_batch(count, user=None)
    if days_old:
        backdate(AuditLog.objects.filter(pk__in=[r.pk for r in rows]), "timestamp", days_old)
    return rows


def test_purge_deletes_rows_past_retention_and_keeps_newer_ones():
    make_rows(4, days_old=1200)
    recent = make_rows(2, days_old=1000)

    output = purge("--days", "1095", "--batch-size", "3")

    assert "Done. Pruned 4 audit log rows." in output
    remaining = AuditLog.objects.exclude(action=AuditLog.Action.PURGE)
    assert set(remaining.values_list("pk", flat=True)) == {r.pk for r in recent}


def test_purge_records_its_own_run_and_never_deletes_that_row():
    make_rows(3, days_old=800)

    purge("--days", "365")
    purge("--days", "365")

    runs = AuditLog.objects.filter(action=AuditLog.Action.PURGE).order_by("pk")
    assert [r.details["deleted"] for r in runs] == [3, 0]
    assert all(r.resource_type == "audit_logs" and r.user is None for r in runs)


@pytest.mark.parametrize("days", ["1", "30", "364"])
def test_fewer_than_365_days_is_refused_without_force(days):
    make_rows(2, days_old=400)

    with pytest.raises(CommandError, match="compliance minimum.*--force"):
        purge("--days", days)
    assert AuditLog.objects.count() == 2


def test_force_allows_fewer_than_365_days():
    make_rows(2, days_old=100)
    make_rows(1)

    output = purge("--days", "30", "--force")

    assert "Done. Pruned 2 audit log rows." in output
    assert AuditLog.objects.exclude(action=AuditLog.Action.PURGE).count() == 1


def test_dry_run_deletes_nothing():
    make_rows(3, days_old=2000)

    assert "Dry run: 3 audit log rows would be pruned." in purge("--dry-run")
    assert AuditLog.objects.exclude(action=AuditLog.Action.PURGE).count() == 3


def test_retention_zero_keeps_everything(settings):
    settings.AUDIT_LOG_RETENTION_DAYS = 0
    make_rows(2, days_old=5000)

    assert "skipped" in purge()
    assert AuditLog.objects.count() == 2
