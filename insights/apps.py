from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """Dashboard, analytics and the rollup tables behind them. Listens to the job lifecycle
    (``automation.signals.job_finished``) instead of being called by it."""

    name = "insights"
    verbose_name = "Insights"

    def ready(self):
        from automation.signals import job_finished
        from insights.rollup import on_job_finished

        job_finished.connect(on_job_finished, dispatch_uid="insights.rollup.on_job_finished")
        from auditing.models import AuditLog
        from core.signals import rows_purging
        from insights.rollup import on_audit_rows_purging

        rows_purging.connect(
            on_audit_rows_purging, sender=AuditLog, dispatch_uid="insights.rollup.audit_purge"
        )
