import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from core.access import admin_required, super_admin_required
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@admin_required
def admin_view(request):
    return HttpResponse("ok")


@super_admin_required
def super_view(request):
    return HttpResponse("ok")


def call(view, person):
    request = RequestFactory().get("/x/")
    request.user = person
    return view(request)


def test_anonymous_is_sent_to_login():
    response = call(admin_view, AnonymousUser())
    assert response.status_code == 302 and response.url.startswith("/login/?next=/x/")


def test_user_is_forbidden_admin_views(user):
    with pytest.raises(PermissionDenied):
        call(admin_view, user)


def test_admin_passes_admin_views_but_not_super_admin_views(admin):
    assert call(admin_view, admin).status_code == 200
    with pytest.raises(PermissionDenied):
        call(super_view, admin)


def test_super_admin_passes_everything(super_admin):
    assert call(admin_view, super_admin).status_code == 200
    assert call(super_view, super_admin).status_code == 200


def test_inactive_admin_is_forbidden():
    with pytest.raises(PermissionDenied):
        call(admin_view, UserFactory(role="admin", is_active=False))


def test_forbidden_page_is_rendered_with_403(as_user):
    response = as_user.get("/audit/")
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_admin_site_only_for_super_admins(as_admin, as_super_admin):
    assert as_admin.get("/admin/").status_code == 302
    assert as_super_admin.get("/admin/").status_code == 200


def test_unknown_url_is_a_404_page(as_user):
    response = as_user.get("/no-such-page/")
    assert response.status_code == 404 and b"Not found" in response.content
