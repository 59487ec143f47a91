"""manage.py purge_server_metrics: delete old monitoring samples.

The rule (table, age setting, exceptions, schedule) is in maintenance/retention.py.
"""

from maintenance.purge import PurgeCommand
from maintenance.retention import retention_for


class Command(PurgeCommand):
    retention = retention_for("purge_server_metrics")
