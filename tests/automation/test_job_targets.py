"""Launching on a target other than one server, from the page and the service: groups, lists
of servers, the launch form's checks, and overlapping runs of one playbook (wait or refuse)."""

import pytest
from django.core.exceptions import ValidationError

from automation.models import Job, JobHost, Playbook
from automation.services.jobs import job_launch
from automation.tasks import start_waiting_jobs
from inventory import services as inventory
from tests.automation import test_projects
from tests.automation.conftest import tasks_yaml
from tests.factories import JobFactory, PlaybookFactory, ServerFactory

pytestmark = pytest.mark.django_db
# A real Git project synced through the real task (fixtures of the projects tests).
repo = test_projects.repo
synced = test_projects.synced


def group(admin, name, servers):
    return inventory.group_create(
        actor=admin, name=name, description="", variables={}, servers=servers, children=[]
    )


def test_the_launch_page_runs_on_a_group(as_user, admin):
    web1, web2 = ServerFactory(hostname="web1"), ServerFactory(hostname="web2")
    web = group(admin, "web", [web1, web2])
    playbook = PlaybookFactory()
    page = as_user.get("/jobs/new/").content.decode()
    assert 'name="groups"' in page and 'name="limit"' in page and 'name="forks"' in page
    response = as_user.post(
        "/jobs/new/", {"playbook": playbook.pk, "groups": [web.pk], "limit": "web1", "forks": 5}
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.server is None and list(job.target_groups.all()) == [web]
    assert (job.limit, job.forks) == ("web1", 5)
    assert list(job.hosts.values_list("hostname", "server_id", "created_at")) == [
        ("web1", web1.pk, job.created_at),
        ("web2", web2.pk, job.created_at),
    ]
    detail = as_user.get(job.get_absolute_url()).content.decode()
    assert 'id="job-target"' in detail and "web" in detail and 'id="host-web2"' in detail


def test_the_launch_form_says_what_is_missing_or_wrong(as_user, admin):
    playbook = PlaybookFactory()
    content = as_user.post("/jobs/new/", {"playbook": playbook.pk}).content.decode()
    assert "Choose a target" in content
    server = ServerFactory()
    content = as_user.post(
        "/jobs/new/", {"playbook": playbook.pk, "server": server.pk, "limit": "a;b"}
    ).content.decode()
    assert "host pattern" in content
    content = as_user.post(
        "/jobs/new/", {"playbook": playbook.pk, "server": server.pk, "forks": 51}
    ).content.decode()
    assert "less than or equal to 50" in content
    empty = group(admin, "empty", [])
    content = as_user.post("/jobs/new/", {"playbook": playbook.pk, "groups": [empty.pk]}).content
    assert b"Group empty has no active servers" in content
    assert not Job.objects.exists()


def test_a_single_server_job_keeps_its_server_and_gets_its_host_row(admin):
    server = ServerFactory(hostname="solo")
    job = job_launch(playbook=PlaybookFactory(), server=server, user=admin)
    assert job.server == server
    assert list(job.hosts.values_list("hostname", flat=True)) == ["solo"]


def running_on(playbook, server):
    job = JobFactory(playbook=playbook, server=server, status=Job.Status.RUNNING)
    JobHost.objects.create(
        job=job, server=server, hostname=server.hostname, created_at=job.created_at
    )
    return job


def test_a_playbook_that_refuses_overlap_refuses_a_launch_on_a_busy_host(admin):
    playbook = PlaybookFactory(host_overlap=Playbook.HostOverlap.REFUSE)
    busy, free = ServerFactory(hostname="busy"), ServerFactory(hostname="free")
    running = running_on(playbook, busy)
    with pytest.raises(ValidationError, match=f"Job {running.job_id} .* is running on busy"):
        job_launch(playbook=playbook, servers=[busy, free], user=admin)
    assert job_launch(playbook=playbook, server=free, user=admin)  # another host is fine
    assert job_launch(playbook=PlaybookFactory(), server=busy, user=admin)  # another playbook


def test_a_job_on_a_busy_host_waits_then_starts_when_the_other_ends(
    admin, inline_tasks, localhost, make_playbook
):
    playbook = make_playbook(tasks_yaml("ansible.builtin.debug: msg=turn"))
    assert playbook.host_overlap == Playbook.HostOverlap.WAIT
    first = running_on(playbook, localhost)
    with inline_tasks():
        waiting = job_launch(playbook=playbook, server=localhost, user=admin)
    waiting.refresh_from_db()
    assert waiting.status == Job.Status.PENDING  # its task ran and left it waiting
    first.finish(Job.Status.SUCCESS)
    with inline_tasks():
        start_waiting_jobs(first)
    waiting.refresh_from_db()
    assert waiting.status == Job.Status.SUCCESS, waiting.error_message


def test_a_project_inventory_file_runs_its_hosts_and_marks_unknown_ones(
    synced, repo, inline_tasks, admin, as_admin
):
    """Hosts named only by the project's inventory file run (here on the controller, inside
    the sandbox) and are shown as such; one named like a known server is linked to it."""
    known = ServerFactory(hostname="known1")
    project = synced()
    repo.commit(
        {
            "inventory/hosts.ini": (
                "[edge]\nedge1 ansible_connection=local\nknown1 ansible_connection=local\n"
                "[edge:vars]\ncolour=blue\n"
            ),
            "edge.yml": (
                "- hosts: edge\n  gather_facts: false\n  tasks:\n"
                "    - ansible.builtin.debug:\n"
                "        msg: '{{ inventory_hostname }} is {{ colour }}'\n"
            ),
        }
    )
    test_projects.sync_again(inline_tasks, project, admin)
    playbook = Playbook.objects.get(project=project, path="edge.yml")
    with pytest.raises(ValidationError, match="no inventory file inventory/nope.ini"):
        job_launch(playbook=playbook, inventory_path="inventory/nope.ini", user=admin)
    with pytest.raises(ValidationError, match="not a path inside the project"):
        job_launch(playbook=playbook, inventory_path="../../etc/hosts", user=admin)
    with inline_tasks():
        job = job_launch(playbook=playbook, inventory_path="inventory/hosts.ini", user=admin)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    rows = {row.hostname: row for row in job.hosts.all()}
    assert rows["edge1"].server is None and rows["edge1"].ok == 1
    assert rows["known1"].server == known and rows["known1"].ok == 1
    text = "\n".join(job.logs.values_list("content", flat=True))
    assert "edge1 is blue" in text
    page = as_admin.get(job.get_absolute_url()).content.decode()
    assert "not in inventory" in page and "inventory/hosts.ini" in page
