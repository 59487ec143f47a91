"""What a person does in the browser, end to end: real Chromium, live server, real worker, real
sshd. Each journey ends on the audit page where its actions must show."""

import re
import subprocess
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from automation.services.playbooks import playbook_create
from inventory.models import Server
from tests.factories import JobFactory, ServerFactory

pytestmark = pytest.mark.django_db(transaction=True)

PLAYBOOK = """\
- name: Demo
  hosts: all
  gather_facts: false
  tasks:
    - name: First step
      ansible.builtin.debug:
        msg: first
"""


def test_log_in_with_a_bad_then_a_good_password(page, live_server, login, admin, shot):
    login(admin, password="wrong")
    expect(page.locator(".errors")).to_contain_text("Please enter a correct username")
    shot("bad-password")
    login(admin)
    expect(page.locator("h1")).to_have_text("Dashboard")
    shot("dashboard")
    page.goto(f"{live_server.url}/audit/")  # the failed attempt has no user, only a name
    expect(page.locator("#audit-table .audit-login_failed")).to_have_count(1)
    expect(page.locator("#audit-table")).to_contain_text(admin.username)
    expect(page.locator("#audit-table .audit-login")).to_have_count(1)
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_admin_creates_a_server_and_sees_its_metrics(page, live_server, login, admin, sshd, shot):
    login(admin)
    page.goto(f"{live_server.url}/servers/")
    page.click("text=New server")
    modal = page.locator(".modal")
    expect(modal).to_be_visible()
    page.fill("#id_hostname", "Loopback.Test")
    page.fill("#id_ip_address", "127.0.0.1")
    page.fill("#id_ssh_user", sshd.user)
    page.fill("#id_ssh_port", str(sshd.port))
    page.fill("#id_ssh_key_path", "../../etc/passwd")
    shot("server-form")
    modal.locator("button[type=submit]").click()
    expect(modal.locator(".errors")).to_contain_text("inside")  # refused, in the modal
    page.fill("#id_ssh_key_path", sshd.key_name)
    modal.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/servers/$"))
    expect(page.locator(".msg-success")).to_contain_text("Server loopback.test saved")
    page.click("#servers a:text('loopback.test')")
    expect(page.locator(".modal")).to_contain_text("Last monitored: never")
    page.click("text=Refresh now")
    metrics = page.locator("#server-metrics")
    expect(metrics).not_to_contain_text("never", timeout=15_000)
    expect(metrics).to_contain_text("%")
    page.click("text=Test connection")
    expect(page.locator("#test-result")).to_contain_text("Connected: Linux", timeout=15_000)
    shot("server-details")
    page.goto(f"{live_server.url}/audit/?resource_type=server")
    expect(page.locator("#audit-table")).to_contain_text("loopback.test")
    shot("audit")


def test_playbook_create_edit_diff_restore(page, live_server, login, admin, shot):
    page.on("dialog", lambda dialog: dialog.accept())
    login(admin)
    page.goto(f"{live_server.url}/playbooks/new/")
    page.fill("#id_name", "Web <b>tier</b>")
    page.fill("#id_content", PLAYBOOK)
    page.click("text=Save")
    expect(page.locator("h1")).to_contain_text("Web <b>tier</b>")  # shown as text, escaped
    page.click(".actions-row a:text('Edit')")
    page.fill("#id_content", PLAYBOOK.replace("msg: first", "msg: second"))
    shot("edit")
    page.click("button:text('Save')")
    expect(page.locator("#playbook-content")).to_contain_text("msg: second")
    page.click(".actions-row a:text('History')")
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    rows.first.locator("text=Diff").click()
    expect(page.locator("td.del")).to_contain_text("msg: first")
    expect(page.locator("td.add")).to_contain_text("msg: second")
    shot("diff")
    page.goto(page.url.split("/diff/")[0] + "/history/")
    page.locator("#versions tbody tr").last.locator("button:text('Restore')").click()
    expect(page.locator(".msg-success")).to_contain_text("restored")
    expect(page.locator("#versions tbody tr").first).to_contain_text("Restored")
    page.goto(page.url.replace("/history/", "/"))
    expect(page.locator("#playbook-content")).to_contain_text("msg: first")
    page.goto(f"{live_server.url}/audit/?resource_type=playbook")
    expect(page.locator("#audit-table .audit-create")).to_have_count(1)
    expect(page.locator("#audit-table .audit-update").first).to_be_visible()


@pytest.fixture
def local_target(db):
    server = ServerFactory(
        hostname="localhost", ip_address="127.0.0.1", connection=Server.Connection.LOCAL
    )
    return server


def test_launch_a_job_and_watch_lines_arrive_until_success(
    page, live_server, login, super_admin, qcluster, local_target, shot
):
    content = PLAYBOOK + (
        "    - name: Wait a little\n      ansible.builtin.pause:\n        seconds: 2\n"
        "    - name: Last step\n      ansible.builtin.debug:\n        msg: last\n"
    )
    playbook = playbook_create(name="Live demo", description="", content=content, user=None)
    login(super_admin)
    page.goto(f"{live_server.url}/jobs/new/?playbook={playbook.pk}&server={local_target.pk}")
    page.fill("#id_extra_vars", '{"release": "1.2.3", "db_password": "hunter2"}')
    page.click("text=Launch")
    console = page.locator("#console")
    # Lines arrive while the job is still running (the pause keeps it live for 2 s).
    expect(console).to_contain_text("TASK [First step]", timeout=30_000)
    expect(page.locator("#job-status")).to_have_text("Running")
    shot("running")
    expect(console).to_contain_text("PLAY RECAP", timeout=30_000)
    expect(page.locator("#job-status")).to_have_text("Success")
    expect(page.locator("#extra-vars")).not_to_contain_text("hunter2")
    shot("success")
    page.goto(f"{live_server.url}/audit/?resource_type=job")
    expect(page.locator("#audit-table .audit-run")).to_have_count(1)


def test_cancel_a_long_job(page, live_server, login, super_admin, qcluster, local_target, shot):
    content = (
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Long task\n      ansible.builtin.command: sleep 120\n"
    )
    playbook = playbook_create(name="Long", description="", content=content, user=None)
    login(super_admin)
    page.goto(f"{live_server.url}/jobs/new/?playbook={playbook.pk}&server={local_target.pk}")
    page.click("text=Launch")
    expect(page.locator("#console")).to_contain_text("TASK [Long task]", timeout=30_000)
    page.click("#cancel")
    expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=10_000)
    shot("cancelled")
    page.goto(f"{live_server.url}/audit/?action=CANCEL")
    expect(page.locator("#audit-table .audit-cancel")).to_have_count(1)


def test_filter_the_jobs_list(page, live_server, login, admin, shot):
    ok = JobFactory(status="success")
    failed = JobFactory(status="failed")
    login(admin)
    page.goto(f"{live_server.url}/jobs/")
    expect(page.locator("#jobs tbody tr")).to_have_count(2)
    page.select_option("#id_status", "failed")
    page.click("button:text('Filter')")
    rows = page.locator("#jobs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(failed.playbook.name)
    expect(page.locator("#jobs")).not_to_contain_text(ok.playbook.name)
    shot("filtered")


def test_changing_the_timezone_changes_the_times(page, live_server, login, admin, shot):
    JobFactory(created_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    login(admin)
    page.goto(f"{live_server.url}/jobs/")
    expect(page.locator("#jobs")).to_contain_text("2026-01-15 12:00:00 UTC")
    page.goto(f"{live_server.url}/settings/")
    page.select_option("#id_timezone", "Asia/Tokyo")
    page.click("button:text('Save')")
    page.goto(f"{live_server.url}/jobs/")
    expect(page.locator("#jobs")).to_contain_text("2026-01-15 21:00:00 JST")
    shot("tokyo")
    page.goto(f"{live_server.url}/audit/?resource_type=user")
    expect(page.locator("#audit-table")).to_contain_text("Asia/Tokyo")


def test_a_user_sees_no_admin_actions_and_is_refused_their_urls(
    page, live_server, login, user, shot
):
    server = ServerFactory()
    login(user)
    nav = page.locator(".mainnav")
    expect(nav).not_to_contain_text("Audit")
    expect(nav).not_to_contain_text("Users")
    page.goto(f"{live_server.url}/servers/")
    expect(page.locator("body")).not_to_contain_text("New server")
    page.goto(f"{live_server.url}/playbooks/")
    expect(page.locator("body")).not_to_contain_text("New playbook")
    shot("user-playbooks")
    for url in (
        "/audit/",
        "/users/",
        "/servers/new/",
        f"/servers/{server.pk}/edit/",
        "/playbooks/new/",
        "/database/",
    ):
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 403, url
        expect(page.locator("h1")).to_contain_text("403")
    shot("forbidden")
    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))


def test_add_a_git_project_sync_it_and_run_one_of_its_playbooks(
    page, live_server, login, super_admin, qcluster, local_target, shot, tmp_path
):
    """Projects -> New project (a Git repository on disk) -> the sync's live log -> launch one
    of its playbooks -> the job page names the revision it ran."""
    work = tmp_path / "site"
    (work / "roles" / "hello" / "tasks").mkdir(parents=True)
    (work / "roles" / "hello" / "tasks" / "main.yml").write_text(
        "- ansible.builtin.debug:\n    msg: hello from the project role\n"
    )
    (work / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  roles:\n    - hello\n"
    )
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "user.email=t@example.test", "-c", "user.name=T", "add", "-A"],
        ["-c", "user.email=t@example.test", "-c", "user.name=T", "commit", "-q", "-m", "one"],
    ):
        subprocess.run(["git", *args], cwd=work, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True, text=True
    ).stdout.strip()
    login(super_admin)
    page.goto(f"{live_server.url}/projects/")
    page.click("text=New project")
    page.fill("#id_name", "Site")
    page.check("input[name=kind][value=git]")
    page.fill("#id_url", str(work))
    page.fill("#id_ref", "main")
    shot("new-project")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Site")
    page.click("#sync-button")
    expect(page.locator("#sync-status")).to_have_text("success", timeout=60_000)
    expect(page.locator("#console")).to_contain_text("Playbooks found: 1")
    shot("synced")
    page.click("text=Site")
    expect(page.locator("#current-revision")).to_contain_text(head[:12])
    page.click("#project-playbooks >> text=Run")
    page.select_option("#id_server", str(local_target.pk))
    page.click("text=Launch")
    expect(page.locator("#console")).to_contain_text("hello from the project role", timeout=60_000)
    expect(page.locator("#job-status")).to_have_text("Success", timeout=30_000)
    expect(page.locator("#job-revision")).to_have_text(head[:12])
    shot("job-at-revision")
    page.click("#job-revision")
    expect(page.locator("#revision")).to_have_text(head)
    expect(page.locator("#files")).to_contain_text("roles/hello/tasks/main.yml")


def test_make_a_group_and_launch_a_job_on_it(
    page, live_server, login, super_admin, qcluster, local_target, shot
):
    second = ServerFactory(
        hostname="second.local", ip_address="127.0.0.1", connection=Server.Connection.LOCAL
    )
    playbook = playbook_create(
        name="Group demo",
        description="",
        content="- hosts: edge\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: '{{ inventory_hostname }} says {{ word }}'\n",
        user=None,
    )
    login(super_admin)
    page.goto(f"{live_server.url}/servers/")
    page.click("text=Groups")
    page.click("text=New group")
    page.fill("#id_name", "edge")
    page.fill("#id_variables", "word: bonjour")
    page.select_option("#id_servers", [str(local_target.pk), str(second.pk)])
    shot("group-form")
    page.click("#group-form button[type=submit]")
    expect(page.locator("#groups")).to_contain_text("edge")
    page.goto(f"{live_server.url}/jobs/new/?playbook={playbook.pk}")
    page.select_option("#id_groups", label="edge")
    page.fill("#id_forks", "2")
    page.click("text=Launch")
    expect(page.locator("#job-status")).to_have_text("Success", timeout=30_000)
    expect(page.locator("#console")).to_contain_text("second.local says bonjour")
    expect(page.locator("#host-stats tbody tr")).to_have_count(2)
    shot("group-job")
    page.click("#host-secondlocal a.host-filter")
    expect(page.locator("#console-host")).to_have_text("second.local")
    expect(page.locator("#console")).not_to_contain_text(f"{local_target.hostname} says")
