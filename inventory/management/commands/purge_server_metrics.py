"""manage.py purge_server_metrics: delete old monitoring samples."""

from automation.maintenance import PurgeCommand
from inventory.models import ServerMetric


class Command(PurgeCommand):
    help = (
        "Delete server_metrics samples older than --days (SERVER_METRICS_RETENTION_DAYS, 30), in "
        "batches of short transactions. 0 days keeps everything."
    )
    model = ServerMetric
    time_field = "collected_at"
    retention_setting = "SERVER_METRICS_RETENTION_DAYS"
    noun = "server metric samples"
