"""Signals shared by apps that must not import each other."""

from django.dispatch import Signal

# Sent by a retention purge inside each batch's transaction, just before its DELETE:
# ``sender`` is the model, ``rows`` the queryset about to be deleted. A rollup fed from that
# table subtracts those rows here, so it stays equal to the table (insights does for
# audit_logs). Receivers run in the batch's transaction: if they fail, nothing is deleted.
rows_purging = Signal()
