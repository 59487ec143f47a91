"""manage.py purge_job_logs: delete old console lines, never those of live jobs.

The rule (table, age setting, exceptions, schedule) is in maintenance/retention.py.
"""

from maintenance.purge import PurgeCommand
from maintenance.retention import retention_for


class Command(PurgeCommand):
    retention = retention_for("purge_job_logs")
