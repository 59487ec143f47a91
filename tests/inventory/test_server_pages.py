import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Server, ServerMetric
from tests.factories import JobFactory, ServerFactory, ServerMetricFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(settings):
    (settings.SSH_KEYS_DIR / "id_deploy").write_text("KEY")
    (settings.SSH_KEYS_DIR / "id_deploy.pub").write_text("PUB")
    return "id_deploy"


def valid(key, **overrides):
    data = {
        "hostname": "web-01.example.net",
        "ip_address": "10.1.2.3",
        "connection": "ssh",
        "ssh_user": "deploy",
        "ssh_port": "22",
        "ssh_key_path": key,
        "os_type": "Linux",
        "os_version": "6.1",
        "is_active": "on",
    }
    data.update(overrides)
    return data


# --- list -------------------------------------------------------------------------------


def test_everyone_logged_in_sees_the_list(as_user):
    ServerFactory(hostname="alpha.example.net", cpu_usage=12.0)
    response = as_user.get("/servers/")
    assert response.status_code == 200
    assert b"alpha.example.net" in response.content
    assert b"New server" not in response.content  # users do not write


def test_search_by_hostname_and_ip(as_user):
    ServerFactory(hostname="db1.example.net", ip_address="10.9.9.9")
    ServerFactory(hostname="web1.example.net", ip_address="10.1.1.1")
    assert b"web1" not in as_user.get("/servers/?q=db1").content
    content = as_user.get("/servers/?q=10.9.9").content
    assert b"db1" in content and b"web1" not in content


def test_filter_active_and_inactive(as_user):
    ServerFactory(hostname="on.example.net")
    ServerFactory(hostname="off.example.net", is_active=False)
    assert b"on.example.net" not in as_user.get("/servers/?status=inactive").content
    assert b"off.example.net" not in as_user.get("/servers/?status=active").content


def test_sort_by_cpu_descending(as_user):
    ServerFactory(hostname="low.example.net", cpu_usage=5)
    ServerFactory(hostname="high.example.net", cpu_usage=95)
    content = as_user.get("/servers/?sort=-cpu").content.decode()
    assert content.index("high.example.net") < content.index("low.example.net")


@pytest.mark.parametrize(
    "query",
    [
        "?page=abc",
        "?page=-1",
        "?page=99999",
        "?sort=;DROP",
        "?status=<script>",
        "?q=" + "x" * 5000,
        "?q=%00",
        "?page=1e9",
    ],
)
def test_bad_query_strings_never_fail(as_user, query):
    ServerFactory()
    assert as_user.get("/servers/" + query).status_code == 200


def test_htmx_request_gets_only_the_table(as_user):
    ServerFactory(hostname="one.example.net")
    response = as_user.get("/servers/?q=one", HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b"one.example.net" in response.content
    assert "HX-Request" in response["Vary"]


def test_last_monitored_renders_in_the_viewers_timezone(client, db):
    from django.utils import timezone

    from tests.factories import UserFactory

    person = UserFactory(timezone="America/New_York")
    ServerFactory(last_monitored=timezone.now())
    client.force_login(person)
    content = client.get("/servers/").content
    assert b" EST" in content or b" EDT" in content


def test_list_query_count_is_constant(as_user, django_assert_max_num_queries):
    ServerFactory.create_batch(5)
    with CaptureQueriesContext(connection) as small:
        as_user.get("/servers/")
    ServerFactory.create_batch(95)
    with CaptureQueriesContext(connection) as large:
        as_user.get("/servers/")
    assert len(small) == len(large)
    with django_assert_max_num_queries(len(small)):
        as_user.get("/servers/?page=3")


# --- create / edit ---------------------------------------------------------------------


def test_admin_creates_a_server(as_admin, key):
    response = as_admin.post("/servers/new/", valid(key))
    assert response.status_code == 302
    server = Server.objects.get()
    assert server.hostname == "web-01.example.net" and server.ssh_key_path == "id_deploy"


def test_create_through_htmx_answers_hx_redirect(as_admin, key):
    response = as_admin.post("/servers/new/", valid(key), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == "/servers/"


def test_htmx_form_errors_come_back_in_the_modal(as_admin, key):
    response = as_admin.post("/servers/new/", valid(key, ssh_port="0"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"modal" in response.content and b"<html" not in response.content
    assert not Server.objects.exists()


def test_absolute_key_path_inside_the_directory_is_stored_relative(as_admin, key, settings):
    as_admin.post("/servers/new/", valid(key, ssh_key_path=str(settings.SSH_KEYS_DIR / key)))
    assert Server.objects.get().ssh_key_path == "id_deploy"


def test_hostname_is_stored_lower_case(as_admin, key):
    as_admin.post("/servers/new/", valid(key, hostname="WEB-01.Example.NET"))
    assert Server.objects.get().hostname == "web-01.example.net"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("hostname", "", "required"),
        ("hostname", "-bad.example", "RFC 1123"),
        ("hostname", "bad-.example", "RFC 1123"),
        ("hostname", "under_score.example", "RFC 1123"),
        ("hostname", "a" * 64 + ".example", "RFC 1123"),
        ("hostname", ("a" * 60 + ".") * 5, "at most"),
        ("hostname", "<script>alert(1)</script>", "RFC 1123"),
        ("ip_address", "999.1.1.1", "valid IPv4 or IPv6"),
        ("ip_address", "not-an-ip", "valid IPv4 or IPv6"),
        ("ssh_port", "0", "greater than or equal to 1"),
        ("ssh_port", "65536", "less than or equal to 65535"),
        ("ssh_port", "22abc", "whole number"),
        ("ssh_port", "-5", ""),
        ("ssh_user", "root;rm -rf /", "POSIX user name"),
        ("ssh_user", "-oProxyCommand=x", "POSIX user name"),
        ("ssh_user", "a" * 40, ""),
        ("ssh_key_path", "../../etc/passwd", "inside"),
        ("ssh_key_path", "/etc/ssh/ssh_host_ed25519_key", "inside"),
        ("ssh_key_path", "", "Choose a key file"),
        ("ssh_key_path", "missing_key", "No key file"),
        ("ssh_key_path", "k" * 300, "too long"),  # ENAMETOOLONG from the filesystem
        ("ssh_key_path", "d/" * 100 + "k" * 256, "too long"),
        ("os_type", "x" * 51, "at most 50"),
        ("os_version", "x" * 101, "at most 100"),
        ("connection", "telnet", "valid choice"),
    ],
)
def test_bad_input_is_refused_with_a_message(as_admin, key, field, value, message):
    response = as_admin.post("/servers/new/", valid(key, **{field: value}))
    assert response.status_code == 200
    assert message.encode() in response.content.replace(b"&#x27;", b"'")
    assert not Server.objects.exists()


def test_symlink_escaping_the_key_directory_is_refused(as_admin, settings):
    os.symlink("/etc/passwd", settings.SSH_KEYS_DIR / "escape")
    response = as_admin.post("/servers/new/", valid("escape"))
    assert b"inside" in response.content and not Server.objects.exists()


def test_duplicate_hostname_is_refused(as_admin, key):
    ServerFactory(hostname="web-01.example.net")
    response = as_admin.post("/servers/new/", valid(key))
    assert b"already exists" in response.content
    assert Server.objects.count() == 1


def test_ipv6_is_accepted(as_admin, key):
    as_admin.post("/servers/new/", valid(key, ip_address="2001:db8::10"))
    assert Server.objects.get().ip_address == "2001:db8::10"


def test_admin_cannot_create_a_local_connection_server(as_admin):
    response = as_admin.post("/servers/new/", valid("", connection="local", ssh_key_path=""))
    assert response.status_code == 200
    assert not Server.objects.exists()


def test_super_admin_creates_a_local_server_without_a_key(as_super_admin):
    as_super_admin.post("/servers/new/", valid("", connection="local", ssh_key_path=""))
    assert Server.objects.get().is_local


def test_admin_cannot_edit_or_delete_a_local_server(as_admin):
    local = ServerFactory(connection=Server.Connection.LOCAL)
    assert as_admin.get(f"/servers/{local.pk}/edit/").status_code == 403
    assert as_admin.post(f"/servers/{local.pk}/delete/").status_code == 403
    assert as_admin.post(f"/servers/{local.pk}/toggle-active/").status_code == 403
    assert Server.objects.filter(pk=local.pk, is_active=True).exists()


def test_admin_edits_a_server(as_admin, key):
    server = ServerFactory(ssh_key_path=key)
    response = as_admin.post(f"/servers/{server.pk}/edit/", valid(key, hostname="renamed.example"))
    assert response.status_code == 302
    server.refresh_from_db()
    assert server.hostname == "renamed.example"


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/servers/new/"),
        ("post", "/servers/new/"),
        ("get", "/servers/{pk}/edit/"),
        ("post", "/servers/{pk}/edit/"),
        ("post", "/servers/{pk}/delete/"),
        ("post", "/servers/{pk}/toggle-active/"),
        ("post", "/servers/{pk}/test/"),
    ],
)
def test_user_cannot_write_servers(as_user, method, url):
    server = ServerFactory()
    response = getattr(as_user, method)(url.format(pk=server.pk))
    assert response.status_code == 403
    assert Server.objects.filter(pk=server.pk, is_active=True, hostname=server.hostname).exists()


def test_anonymous_is_sent_to_login(anonymous):
    server = ServerFactory()
    for url in ("/servers/", f"/servers/{server.pk}/", "/servers/new/"):
        assert anonymous.get(url).status_code == 302


# --- deactivate / delete --------------------------------------------------------------


def test_deactivate_and_reactivate(as_admin):
    server = ServerFactory()
    as_admin.post(f"/servers/{server.pk}/toggle-active/")
    server.refresh_from_db()
    assert not server.is_active
    as_admin.post(f"/servers/{server.pk}/toggle-active/")
    server.refresh_from_db()
    assert server.is_active


def test_delete_asks_for_confirmation_then_deletes(as_admin):
    server = ServerFactory()
    ServerMetricFactory(server=server)
    assert b"Delete" in as_admin.get(f"/servers/{server.pk}/delete/").content
    as_admin.post(f"/servers/{server.pk}/delete/")
    assert not Server.objects.exists() and not ServerMetric.objects.exists()


def test_delete_is_refused_while_jobs_reference_the_server(as_admin):
    job = JobFactory()
    response = as_admin.post(f"/servers/{job.server.pk}/delete/", follow=True)
    assert b"cannot be deleted" in response.content and b"Deactivate it instead" in response.content
    assert Server.objects.filter(pk=job.server.pk).exists()


def test_missing_server_is_404(as_admin):
    assert as_admin.get("/servers/999999/").status_code == 404
    assert as_admin.post("/servers/999999/delete/").status_code == 404


# --- details, metrics, chart, refresh, test ----------------------------------------


def test_details_modal_shows_facts_metrics_chart_and_run_link(as_user):
    server = ServerFactory(cpu_usage=42.5, last_error="unreachable: refused")
    ServerMetricFactory(server=server)
    response = as_user.get(f"/servers/{server.pk}/", HTTP_HX_REQUEST="true")
    content = response.content
    assert b"modal" in content and b"42.5%" in content
    assert b'hx-trigger="every 10s"' in content
    assert b"unreachable: refused" in content
    assert f"/jobs/new/?server={server.pk}".encode() in content
    assert b"<polyline" in content
    assert b"Test connection" not in content  # users do not test connections


def test_details_page_works_without_htmx(as_user):
    server = ServerFactory()
    response = as_user.get(f"/servers/{server.pk}/")
    assert response.status_code == 200 and b"<html" in response.content


def test_chart_ranges(as_user):
    from datetime import timedelta

    from django.utils import timezone

    server = ServerFactory()
    ServerMetricFactory(server=server, collected_at=timezone.now() - timedelta(days=3))
    assert b"0 samples" in as_user.get(f"/servers/{server.pk}/chart/?range=24h").content
    assert b"1 samples" in as_user.get(f"/servers/{server.pk}/chart/?range=7d").content
    assert as_user.get(f"/servers/{server.pk}/chart/?range=garbage").status_code == 200


def test_chart_query_count_does_not_grow_with_samples(as_user, django_assert_max_num_queries):
    server = ServerFactory()
    ServerMetricFactory.create_batch(300, server=server)
    with django_assert_max_num_queries(4):
        as_user.get(f"/servers/{server.pk}/chart/?range=7d")


def test_refresh_collects_now(as_user, local_server):
    response = as_user.post(f"/servers/{local_server.pk}/refresh/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"server-metrics" in response.content
    assert ServerMetric.objects.filter(server=local_server).count() == 1


def test_refresh_needs_post(as_user, local_server):
    assert as_user.get(f"/servers/{local_server.pk}/refresh/").status_code == 405


def test_test_connection_button_for_admins(as_admin, ssh_server):
    response = as_admin.post(f"/servers/{ssh_server.pk}/test/", HTTP_HX_REQUEST="true")
    assert b"Connected: Linux" in response.content


def test_metrics_partial_is_pollable(as_user):
    server = ServerFactory(memory_usage=77.0)
    response = as_user.get(f"/servers/{server.pk}/metrics/")
    assert b"77.0%" in response.content and b"<html" not in response.content
