"""Role checks for views, following the role table in docs/DESIGN.md.

Anonymous visitors are sent to the login page by ``LoginRequiredMiddleware`` (and by these
decorators when a view is reached without it); a logged-in user without the role gets the 403
page. Hiding a button is never the check: these are.

Only duck-typed attributes of ``request.user`` are read (``is_authenticated``, ``is_active`` and
the flag named by the decorator, such as ``is_admin``): the user model lives in ``accounts``,
above core, and says itself who is an admin.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def has_flag(user, flag: str) -> bool:
    """Is ``user`` logged in, active and true on its ``flag`` attribute?"""
    return bool(user.is_authenticated and user.is_active and getattr(user, flag, False))


def role_required(flag: str) -> Callable:
    """Let the view run only for active logged-in users whose ``flag`` attribute is true."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_flag(request.user, flag):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required("is_admin")
super_admin_required = role_required("is_super_admin")
