"""manage.py purge_audit_logs: delete audit rows past the retention period (1 year minimum)."""

from auditing.models import AuditLog
from automation.maintenance import PurgeCommand


class Command(PurgeCommand):
    help = (
        "Delete audit_logs rows older than --days (AUDIT_LOG_RETENTION_DAYS, 1095), in batches "
        "of short transactions. Refuses fewer than 365 days (the compliance minimum) unless "
        "--force. The run itself is recorded as a PURGE audit row. 0 days keeps everything."
    )
    model = AuditLog
    time_field = "timestamp"
    retention_setting = "AUDIT_LOG_RETENTION_DAYS"
    noun = "audit log rows"
    min_days = 365
