"""The Django admin keeps the app's rules: the last active super_admin cannot be demoted,
deactivated or deleted there either (one at a time or with the bulk action), and console lines
are read-only."""

import pytest

from accounts.models import User
from tests.factories import JobLogFactory, UserFactory

pytestmark = pytest.mark.django_db


def change(client, target, **overrides):
    data = {
        "username": target.username,
        "email": target.email,
        "first_name": "",
        "last_name": "",
        "timezone": target.timezone,
        "role": target.role,
        "is_active": "on" if target.is_active else "",
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(overrides)
    return client.post(f"/admin/accounts/user/{target.pk}/change/", data)


@pytest.mark.parametrize("overrides", [{"role": "admin"}, {"is_active": ""}])
def test_admin_refuses_to_demote_or_deactivate_the_last_super_admin(
    as_super_admin, super_admin, overrides
):
    response = change(as_super_admin, super_admin, **overrides)
    assert response.status_code == 200
    assert "last active super admin" in response.content.decode()
    super_admin.refresh_from_db()
    assert super_admin.is_super_admin and super_admin.is_active


def test_admin_demotes_a_super_admin_when_another_remains(as_super_admin):
    other = UserFactory(role=User.Role.SUPER_ADMIN)
    response = change(as_super_admin, other, role="admin")
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.role == User.Role.ADMIN


def test_admin_refuses_to_delete_the_last_super_admin(as_super_admin, super_admin):
    url = f"/admin/accounts/user/{super_admin.pk}/delete/"
    page = as_super_admin.get(url).content.decode()
    assert "last active super admin" in page and "cannot be deleted" in page
    as_super_admin.post(url, {"post": "yes"})
    assert User.objects.filter(pk=super_admin.pk).exists()


def test_bulk_delete_cannot_remove_every_active_super_admin(as_super_admin, super_admin):
    other = UserFactory(role=User.Role.SUPER_ADMIN)
    plain = UserFactory(role=User.Role.USER)
    selected = [str(pk) for pk in (super_admin.pk, other.pk, plain.pk)]
    data = {"action": "delete_selected", "_selected_action": selected}
    page = as_super_admin.post("/admin/accounts/user/", data).content.decode()
    assert "last active super admin" in page
    as_super_admin.post("/admin/accounts/user/", {**data, "post": "yes"})
    assert User.objects.filter(pk__in=selected).count() == 3


def test_bulk_delete_of_other_users_still_works(as_super_admin, super_admin):
    doomed = UserFactory.create_batch(2, role=User.Role.USER)
    data = {
        "action": "delete_selected",
        "_selected_action": [str(u.pk) for u in doomed],
        "post": "yes",
    }
    assert as_super_admin.post("/admin/accounts/user/", data).status_code == 302
    assert not User.objects.filter(pk__in=[u.pk for u in doomed]).exists()


def test_console_lines_cannot_be_deleted_added_or_changed_in_the_admin(as_super_admin):
    line = JobLogFactory()
    base = "/admin/automation/joblog/"
    assert as_super_admin.get(f"{base}{line.pk}/delete/").status_code == 403
    assert as_super_admin.post(f"{base}{line.pk}/delete/", {"post": "yes"}).status_code == 403
    assert as_super_admin.get(f"{base}add/").status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [str(line.pk)], "post": "yes"}
    as_super_admin.post(base, bulk)
    line.refresh_from_db()  # still there
    assert "delete_selected" not in as_super_admin.get(base).content.decode()


# --- the trail keeps its actors ------------------------------------------------------------


def test_a_user_who_has_acted_cannot_be_deleted_in_the_admin_only_deactivated(as_super_admin):
    from django.db.models import ProtectedError

    from auditing.models import AuditLog
    from tests.factories import PlaybookVersionFactory

    actor = UserFactory(username="olga", role=User.Role.ADMIN)
    AuditLog.objects.create(user=actor, action=AuditLog.Action.UPDATE, resource_type="server")
    historian = UserFactory(username="hugo", role=User.Role.ADMIN)
    PlaybookVersionFactory(user=historian)
    for person in (actor, historian):
        url = f"/admin/accounts/user/{person.pk}/delete/"
        page = as_super_admin.get(url).content.decode()
        assert "has acted" in page and "deactivate the account instead" in page
        as_super_admin.post(url, {"post": "yes"})
        assert User.objects.filter(pk=person.pk).exists()
    bulk = {"action": "delete_selected", "_selected_action": [str(actor.pk)], "post": "yes"}
    as_super_admin.post("/admin/accounts/user/", bulk)
    assert User.objects.filter(pk=actor.pk).exists()
    with pytest.raises(ProtectedError):  # the shell and any other code path alike
        actor.delete()


def test_audit_rows_keep_the_username_and_role_they_were_written_with(as_super_admin):
    from auditing.models import AuditLog
    from auditing.services import audit_record
    from automation.models import PlaybookVersion
    from tests.factories import PlaybookVersionFactory

    person = UserFactory(username="renata", role=User.Role.ADMIN)
    row = audit_record(AuditLog.Action.UPDATE, resource_type="server", user=person)
    version = PlaybookVersionFactory(user=person)
    User.objects.filter(pk=person.pk).update(username="renamed", role=User.Role.USER)
    row, version = AuditLog.objects.get(pk=row.pk), PlaybookVersion.objects.get(pk=version.pk)
    assert (row.username, row.user_role) == ("renata", "admin")
    assert (version.username, version.user_role) == ("renata", "admin")
    page = as_super_admin.get("/audit/?resource_type=server").content.decode()
    assert '<td>renata <span class="muted">admin</span></td>' in page
    export = b"".join(as_super_admin.get("/audit/export.csv?resource_type=server")).decode()
    assert "renata" in export
