"""Access helpers for the role table in docs/DESIGN.md.

Anonymous visitors are sent to the login page by ``LoginRequiredMiddleware``; a logged-in user
without the role gets the 403 page. Use the decorators on function views and ``RoleRequiredMixin``
on class-based ones. Hiding a button is never the check: these are.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from accounts.models import User

ADMIN_ROLES = (User.Role.ADMIN, User.Role.SUPER_ADMIN)
SUPER_ADMIN_ROLES = (User.Role.SUPER_ADMIN,)


def has_role(user, roles):
    return user.is_authenticated and user.is_active and user.role in roles


def role_required(*roles):
    """Let the view run only for logged-in users holding one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required(*ADMIN_ROLES)
super_admin_required = role_required(*SUPER_ADMIN_ROLES)


class RoleRequiredMixin:
    """Class-based view counterpart of ``role_required``; set ``allowed_roles``."""

    allowed_roles = ADMIN_ROLES

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not has_role(request.user, self.allowed_roles):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)
