"""manage.py purge_audit_logs: delete audit rows past the retention period (1 year minimum).

The rule (table, age setting, exceptions, schedule) is in maintenance/retention.py.
"""

from maintenance.purge import PurgeCommand
from maintenance.retention import retention_for


class Command(PurgeCommand):
    retention = retention_for("purge_audit_logs")
