"""Server groups: pages for admins, nesting without cycles, variables that are a mapping,
the servers list filtered by group."""

import pytest
from django.core.exceptions import ValidationError

from auditing.models import AuditLog
from inventory import services
from inventory.models import Server, ServerGroup
from inventory.variables import parse_variables
from tests.factories import ServerFactory, ServerGroupFactory

pytestmark = pytest.mark.django_db


def save(actor, group=None, **fields):
    fields = {"description": "", "variables": {}, "servers": [], "children": [], **fields}
    if group is None:
        return services.group_create(actor=actor, **fields)
    return services.group_update(actor=actor, group=group, **{"name": group.name, **fields})


def test_admin_creates_a_group_with_servers_and_variables_from_yaml(as_admin):
    web1, web2 = ServerFactory(hostname="web1"), ServerFactory(hostname="web2")
    response = as_admin.post(
        "/groups/new/",
        {
            "name": "webservers",
            "variables": "http_port: 8080\nmotd: hi",
            "servers": [web1.pk, web2.pk],
        },
    )
    assert response.status_code == 302
    group = ServerGroup.objects.get(name="webservers")
    assert group.variables == {"http_port": 8080, "motd": "hi"}
    assert set(group.servers.values_list("hostname", flat=True)) == {"web1", "web2"}
    row = AuditLog.objects.filter(resource_type="server_group", action=AuditLog.Action.UPDATE).get()
    assert row.details["changes"]["servers"] == [[], ["web1", "web2"]]


def test_a_group_cannot_contain_itself_or_its_parent(admin):
    top = save(admin, name="top")
    middle = save(admin, name="middle")
    save(admin, top, children=[middle])
    with pytest.raises(ValidationError, match="middle cannot contain top, which contains it"):
        save(admin, middle, children=[top])
    with pytest.raises(ValidationError, match="cannot contain itself"):
        save(admin, top, children=[top])
    assert list(middle.children.all()) == []


def test_the_form_says_why_a_cycle_is_refused(as_admin, admin):
    a = save(admin, name="a")
    b = save(admin, name="b", children=[a])
    response = as_admin.post(f"/groups/{a.pk}/edit/", {"name": "a", "children": [b.pk]})
    assert response.status_code == 200
    assert "groups would nest in a circle" in response.content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b", "must be a mapping"),
        ("just text", "must be a mapping"),
        ("{1: x}", "is not a valid variable name"),
        ("a: [1, 2", "not valid YAML or JSON"),
        ("when: 2024-01-01", "JSON data"),
    ],
)
def test_variables_that_are_not_a_mapping_of_names_are_refused(text, message):
    with pytest.raises(ValidationError, match=message):
        parse_variables(text)


def test_json_and_yaml_variables_read_the_same():
    assert parse_variables('{"port": 80, "tags": ["a"]}') == parse_variables("port: 80\ntags: [a]")
    assert parse_variables("  ") == {}


def test_connection_variables_are_admin_only(user, admin):
    from inventory.variables import check_reserved_variables

    with pytest.raises(ValidationError, match="Only admins may set ansible_connection"):
        check_reserved_variables({"ansible_connection": "local"}, user=user)
    check_reserved_variables({"ansible_connection": "local"}, user=admin)


def test_the_group_name_is_one_ansible_accepts(admin):
    with pytest.raises(ValidationError, match="letters, digits"):
        save(admin, name="web servers")
    with pytest.raises(ValidationError, match="Ansible makes itself"):
        save(admin, name="all")


def test_server_variables_are_saved_from_the_server_form(as_admin, settings):
    from tests.inventory.test_server_pages import valid  # noqa: PLC0415

    (settings.SSH_KEYS_DIR / "id_deploy").write_text("KEY")
    response = as_admin.post("/servers/new/", valid("id_deploy", variables="role: primary"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Server.objects.get().variables == {"role": "primary"}
    response = as_admin.post(
        "/servers/new/", valid("id_deploy", hostname="x.example", variables="[1]")
    )
    assert "must be a mapping" in response.content.decode()


def test_servers_list_filters_by_group_including_nested_groups(
    as_user, admin, django_assert_max_num_queries
):
    web1, db1, other = (ServerFactory(hostname=h) for h in ("web1", "db1", "other"))
    db = save(admin, name="db", servers=[db1])
    prod = save(admin, name="prod", servers=[web1], children=[db])
    with django_assert_max_num_queries(8):
        content = as_user.get(f"/servers/?group={prod.pk}").content.decode()
    assert "web1" in content and "db1" in content and ">other<" not in content
    content = as_user.get(f"/servers/?group={db.pk}").content.decode()
    assert "db1" in content and ">web1<" not in content
    # An unknown group is ignored, not an error.
    assert as_user.get("/servers/?group=abc").status_code == 200
    assert ServerGroupFactory()  # the factory works for other tests


def test_users_cannot_change_groups(user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        save(user, name="mine")
