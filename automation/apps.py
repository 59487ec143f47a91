from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self):
        from django_q.signals import post_spawn

        from automation import checks  # noqa: F401 - registers the sandbox check

        post_spawn.connect(on_worker_start, dispatch_uid="automation.on_worker_start")


def on_worker_start(sender, proc_name, **kwargs):
    """A new worker process: it announces itself (heartbeat), then fails the jobs of workers
    that died (e.g. killed mid-run; its cluster replaces them, which is why this one exists)."""
    import logging

    from django_q.conf import Conf

    from automation.services.jobs import jobs_reap
    from automation.tasks import close_stale_connections
    from automation.workers import start_heartbeat

    try:
        if not Conf.SYNC:  # sync mode runs the worker loop inline, in the caller's process
            start_heartbeat()
        reaped = jobs_reap()
        if reaped:
            logging.getLogger(__name__).warning("Reaped %d orphaned jobs", len(reaped))
    finally:
        close_stale_connections()
