"""django-q2's models in the Django admin, read-only.

A schedule can run any function on the worker and a queued or failed task can be resubmitted:
the schedules come from ``manage.py setup_schedules`` (one source of truth, audited there), so
the admin shows them, their results and the queue, and changes nothing."""

from django.contrib import admin
from django_q import admin as q_admin
from django_q.conf import Conf
from django_q.models import Failure, OrmQ, Schedule, Success


class ReadOnlyQAdmin:
    """Mixed into django-q2's own admin classes: their lists stay, every write goes."""

    actions = ()  # no "resubmit", no bulk delete
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model, base in (
    (Schedule, q_admin.ScheduleAdmin),
    (Success, q_admin.TaskAdmin),
    (Failure, q_admin.FailAdmin),
    (OrmQ, q_admin.QueueAdmin),
):
    if model is OrmQ and not Conf.ORM:
        continue
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(f"ReadOnly{base.__name__}", (ReadOnlyQAdmin, base), {}))
