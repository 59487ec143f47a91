"""Signals the job lifecycle sends, so apps above automation react without automation knowing them.

``job_finished`` is sent by ``Job.transition`` when a job reaches a final status (success,
failed or cancelled), and only when this process won the change (the conditional UPDATE matched
the row), so each run is announced exactly once. It is sent inside the transaction that records
the status: a receiver may write in the same transaction (the analytics rollups do, so a run is
counted if and only if its final status is committed), and must not let its own errors escape,
because an exception here would roll back the job's final status. Receivers doing work outside
the database (a notification) should defer it with ``transaction.on_commit``.

Arguments: ``sender`` the Job class, ``job`` the instance (already holding the new status and
the fields saved with it; other fields may be deferred), ``old_status`` the status it left.
"""

from django.dispatch import Signal

job_finished = Signal()
