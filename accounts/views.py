"""Login/logout, the users pages (admins) and each person's settings page."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from accounts import selectors, services
from accounts.forms import (
    ChangePasswordForm,
    LoginForm,
    SetPasswordForm,
    SettingsForm,
    UserCreateForm,
    UserEditForm,
)
from accounts.models import User
from core.access import admin_required

USERS_PER_PAGE = 50


class LoginView(auth_views.LoginView):
    """Login page; Django's view already refuses ``?next=`` URLs to other hosts."""

    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Logout by POST only (a GET answers 405), so no page can log a user out by a link."""


def _form_error(form, error):
    """Put a service's ValidationError on the form so the page shows it next to the fields."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@admin_required
def user_list(request):
    page = Paginator(selectors.user_list(), USERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/user_list.html", {"page": page, "title": "Users"})


@admin_required
def user_create(request):
    form = UserCreateForm(request.POST if request.method == "POST" else None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        person = services.user_create(
            actor=request.user,
            username=data["username"],
            email=data["email"],
            role=data["role"],
            timezone_name=data["timezone"],
            password=data["new_password2"],
        )
        messages.success(request, f"User {person.username} created.")
        return redirect("user_list")
    return render(request, "accounts/user_form.html", {"form": form, "title": "New user"})


def _managed_user(request, pk):
    """The user ``pk`` if the viewer may manage them: 404 when missing, 403 when not theirs."""
    target = get_object_or_404(User, pk=pk)
    if not services.can_manage(request.user, target):
        raise PermissionDenied
    return target


@admin_required
def user_edit(request, pk):
    target = _managed_user(request, pk)
    form = UserEditForm(
        request.POST if request.method == "POST" else None, instance=target, actor=request.user
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update(
                actor=request.user,
                target=target,
                email=data["email"],
                role=data["role"],
                is_active=data["is_active"],
                timezone_name=data["timezone"],
            )
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"User {target.username} saved.")
            return redirect("user_list")
    context = {"form": form, "target": target, "title": f"Edit {target.username}"}
    return render(request, "accounts/user_form.html", context)


@admin_required
def user_password(request, pk):
    target = _managed_user(request, pk)
    form = SetPasswordForm(request.POST if request.method == "POST" else None, user=target)
    if request.method == "POST" and form.is_valid():
        services.user_set_password(
            actor=request.user,
            target=target,
            password=form.cleaned_data["new_password2"],
            request=request,
        )
        messages.success(request, f"Password of {target.username} changed.")
        return redirect("user_list")
    context = {"form": form, "target": target, "title": f"Set password of {target.username}"}
    return render(request, "accounts/password_form.html", context)


def settings_page(request):
    form = SettingsForm(request.POST if request.method == "POST" else None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_settings_update(
            user=request.user, timezone_name=form.cleaned_data["timezone"]
        )
        messages.success(request, "Settings saved.")
        return redirect("settings")
    return render(request, "accounts/settings.html", {"form": form, "title": "Settings"})


def settings_password(request):
    form = ChangePasswordForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_set_password(
            actor=request.user,
            target=request.user,
            password=form.cleaned_data["new_password2"],
            request=request,
        )
        messages.success(request, "Password changed.")
        return redirect("settings")
    context = {"form": form, "target": request.user, "title": "Change password"}
    return render(request, "accounts/password_form.html", context)
