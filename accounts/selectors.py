"""Reads of the accounts app."""

from django.db.models import QuerySet

from accounts.models import User


def user_list() -> QuerySet[User]:
    """Every user, by username (the users page)."""
    return User.objects.order_by("username")
