"""purge_server_metrics: old samples go, recent ones stay, in batches."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from auditing.models import AuditLog
from inventory.models import ServerMetric
from tests.factories import ServerFactory, ServerMetricFactory
from tests.maintenance.helpers import backdate

pytestmark = pytest.mark.django_db


def purge(*args):
    out = StringIO()
    call_command("purge_server_metrics", *args, stdout=out)
    return out.getvalue()


def make_samples(server, count, *, days_old=0):
    rows = ServerMetricFactory.create_batch(count, server=server)
    if days_old:
        backdate(ServerMetric.objects.filter(pk__in=[r.pk for r in rows]), "collected_at", days_old)
    return rows


def test_purge_deletes_old_samples_and_keeps_recent_ones():
    server = ServerFactory()
    make_samples(server, 5, days_old=45)
    recent = make_samples(server, 3, days_old=2)

    output = purge("--days", "30", "--batch-size", "2")

    assert "Done. Pruned 5 server metric samples. (3 batches" in output
    assert set(ServerMetric.objects.values_list("pk", flat=True)) == {r.pk for r in recent}
    record = AuditLog.objects.get(action=AuditLog.Action.PURGE)
    assert record.resource_type == "server_metrics"
    assert record.details["deleted"] == 5


def test_default_days_come_from_settings(settings):
    settings.SERVER_METRICS_RETENTION_DAYS = 7
    server = ServerFactory()
    make_samples(server, 2, days_old=8)
    make_samples(server, 2, days_old=6)

    assert "Pruned 2 server metric samples." in purge()
    assert ServerMetric.objects.count() == 2


def test_dry_run_deletes_nothing():
    make_samples(ServerFactory(), 4, days_old=60)

    assert "Dry run: 4 server metric samples would be pruned." in purge("--dry-run")
    assert ServerMetric.objects.count() == 4


def test_negative_days_are_refused():
    with pytest.raises(CommandError, match="--days must be 0"):
        purge("--days", "-3")
