"""Forms of the accounts app: login, the users pages and the settings page."""

import zoneinfo
from functools import cache

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from accounts.throttle import login_blocked_until, throttle_key
from auditing.context import client_ip
from auditing.models import AuditLog
from auditing.services import NO_USER, audit_record


class LoginForm(AuthenticationForm):
    """Django's login form with the length limits enforced, not only hinted in the widget, and
    login throttling checked before the password is (accounts/throttle.py)."""

    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is not None and self.request is not None:
            ip_address = client_ip(self.request)
            until = login_blocked_until(username=username, ip_address=ip_address)
            if until is not None:
                audit_record(
                    AuditLog.Action.LOGIN_BLOCKED,
                    details={"username": username, "blocked_until": until.isoformat()},
                    user=NO_USER,
                    resource_type="login",
                    resource_id=throttle_key(username),
                    request=self.request,
                )
                minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
                raise ValidationError(
                    "Too many failed login attempts for this username from your address. "
                    "Try again in %(minutes)d minute(s).",
                    code="throttled",
                    params={"minutes": minutes},
                )
        return super().clean()


@cache
def timezone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class TimezoneField(forms.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=timezone_choices, **kwargs)


def role_choices_for(actor):
    """The roles ``actor`` may give: admins never hand out super_admin."""
    if actor.is_super_admin:
        return User.Role.choices
    return [(value, label) for value, label in User.Role.choices if value != User.Role.SUPER_ADMIN]


class NewPasswordMixin(forms.Form):
    """Two password fields checked against AUTH_PASSWORD_VALIDATORS for ``self.password_user``."""

    new_password1 = forms.CharField(
        label="New password", strip=False, max_length=4096, widget=forms.PasswordInput
    )
    new_password2 = forms.CharField(
        label="New password again", strip=False, max_length=4096, widget=forms.PasswordInput
    )

    def clean_new_password2(self):
        first = self.cleaned_data.get("new_password1")
        second = self.cleaned_data["new_password2"]
        if first and first != second:
            raise ValidationError("The two passwords differ.", code="password_mismatch")
        password_validation.validate_password(second, self.password_user)
        return second


class UserCreateForm(NewPasswordMixin, forms.ModelForm):
    role = forms.ChoiceField()
    timezone = TimezoneField(initial="UTC")

    class Meta:
        model = User
        fields = ["username", "email", "role", "timezone"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices_for(actor)
        self.fields["role"].initial = User.Role.USER

    @property
    def password_user(self):
        # Validators compare the password with the username and email being created.
        return User(
            username=self.cleaned_data.get("username", ""),
            email=self.cleaned_data.get("email", ""),
        )


class UserEditForm(forms.ModelForm):
    """Role, active flag, email and time zone. The role field is shown disabled on one's own
    account: nobody edits their own role (the service refuses it as well)."""

    role = forms.ChoiceField()
    timezone = TimezoneField()

    class Meta:
        model = User
        fields = ["email", "role", "is_active", "timezone"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices_for(actor)
        if self.instance.pk == actor.pk:
            self.fields["role"].disabled = True
            self.fields["role"].choices = User.Role.choices
            self.fields["is_active"].disabled = True


class SetPasswordForm(NewPasswordMixin):
    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.password_user = user


class ChangePasswordForm(NewPasswordMixin):
    """Change one's own password: the current one first."""

    old_password = forms.CharField(
        label="Current password", strip=False, max_length=4096, widget=forms.PasswordInput
    )
    field_order = ["old_password", "new_password1", "new_password2"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.password_user = user

    def clean_old_password(self):
        old = self.cleaned_data["old_password"]
        if not self.password_user.check_password(old):
            raise ValidationError(
                "Your current password is not correct.", code="password_incorrect"
            )
        return old


class SettingsForm(forms.ModelForm):
    timezone = TimezoneField(label="Time zone")

    class Meta:
        model = User
        fields = ["timezone"]
