from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self):
        from django_q.signals import post_spawn

        from automation import checks  # noqa: F401 - registers the sandbox check

        post_spawn.connect(reap_on_worker_start, dispatch_uid="automation.reap_on_worker_start")


def reap_on_worker_start(sender, proc_name, **kwargs):
    """A new worker process: jobs whose worker died (e.g. killed mid-run) are failed now."""
    import logging

    from automation.services.jobs import jobs_reap
    from automation.tasks import close_stale_connections

    try:
        reaped = jobs_reap()
        if reaped:
            logging.getLogger(__name__).warning("Reaped %d orphaned jobs", len(reaped))
    finally:
        close_stale_connections()
