"""The sandbox around every ansible-playbook: payloads that used to run on the controller with
the worker's rights either print literally or run inside it, where they find nothing of the app.

The target is a real sshd on loopback that logs in as ``infra-target``; sandboxed controller-side
tasks run as RUNNER_USER (``infra-runner``). The owner of a file a task wrote, and the ``id -un``
a task prints, show which side ran it.
"""

import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError

from automation import checks, validation
from automation.models import Job, JobLog
from automation.runner import sandbox
from automation.runner.execute import PROMPT_MESSAGE
from automation.runner.prepare import unsafe_yaml
from automation.services.jobs import job_launch
from inventory.models import Server
from inventory.ssh import known_hosts_adopt
from tests.automation.conftest import tasks_yaml
from tests.factories import ServerFactory, UserFactory
from tests.sshd import keygen
from tests.worker import start_qcluster, stop_qcluster, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CANARY_SECRET = "canary-secret-key-4f9d2"


@pytest.fixture
def markers():
    """A host directory both sides would be able to write to, if they could reach it."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-markers-"))
    path.chmod(0o777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def worker(transactional_db, target_sshd, settings, monkeypatch):
    """A real qcluster whose environment holds a known SECRET_KEY (the tasks it reads are
    signed with it, so this process signs with it too). It shares the target's key directory."""
    from django_q.conf import Conf

    monkeypatch.setenv("SECRET_KEY", CANARY_SECRET)
    monkeypatch.setattr(Conf, "SECRET_KEY", CANARY_SECRET)
    process = start_qcluster(Path(settings.PLAYBOOKS_DIR).parent / "qcluster.log")
    yield process
    stop_qcluster(process)


@pytest.fixture
def target(target_sshd):
    return ServerFactory(
        hostname="target.test",
        ip_address=target_sshd.host,
        ssh_port=target_sshd.port,
        ssh_user=target_sshd.user,
        ssh_key_path=target_sshd.key_name,
    )


@pytest.fixture
def member(db):
    return UserFactory(username="ulrich", role="user")


def make_playbook(content):
    from automation.services import playbooks as services

    return services.playbook_create(
        name=f"Sandbox {time.monotonic_ns()}", description="", content=content, user=None
    )


def shell_shown(name, command, **options):
    """A shell task and a debug task that prints its output lines (shell output alone is not
    on the console)."""
    var = "out_" + "".join(c if c.isalnum() else "_" for c in name.lower())
    return [
        {"name": name, "ansible.builtin.shell": command, "register": var, **options},
        {"name": f"{name} output", "ansible.builtin.debug": {"var": f"{var}.stdout_lines"}},
    ]


def play(*tasks, hosts="all"):
    return {"name": "Probe", "hosts": hosts, "gather_facts": False, "tasks": [*tasks]}


def run_on_worker(**launch):
    job = job_launch(**launch)
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60)
    job.refresh_from_db()
    return job


def console(job):
    return "\n".join(
        JobLog.objects.filter(job=job).order_by("line_number").values_list("content", flat=True)
    )


def labelled(text, label):
    """Values a task printed as ``LABEL=value`` (ANSI colours and JSON quoting aside)."""
    found = []
    for line in text.splitlines():
        if f"{label}=" in line:
            found.append(line.split(f"{label}=", 1)[1].split('"')[0].split("\x1b")[0].strip())
    return found


def test_extra_var_lookups_print_literally_and_run_nothing(worker, target, member, markers):
    marker = markers / "pwned"
    payload = f"{{{{ lookup('pipe', 'id > {marker}; id') }}}}"
    playbook = make_playbook(
        tasks_yaml(
            "name: Show\n      ansible.builtin.debug: {var: kernel.stdout}",
            'name: Use\n      ansible.builtin.debug: {msg: "{{ kernel.stdout }} {{ env }}"}',
        )
    )
    job = run_on_worker(
        playbook=playbook,
        server=target,
        user=member,
        extra_vars={
            "kernel": {"stdout": payload},
            "env": ["{{ lookup('env', 'SECRET_KEY') }}", {"deep": [["{{ 7919 * 7907 }}"]]}],
        },
    )
    assert job.status == Job.Status.SUCCESS, job.error_message
    text = console(job)
    assert payload in text.replace('\\"', '"')
    assert "lookup('env', 'SECRET_KEY')" in text and "{{ 7919 * 7907 }}" in text
    # 62615533 = 7919 * 7907: a number no path or id here contains by chance, never computed.
    assert "uid=" not in text and CANARY_SECRET not in text and "62615533" not in text
    assert not marker.exists()


def test_controller_side_tasks_run_sandboxed_and_find_nothing_of_the_app(
    worker, target, member, markers, settings
):
    other_key = keygen(Path(settings.SSH_KEYS_DIR) / "another_server_key")
    own_key = (Path(settings.SSH_KEYS_DIR) / target.ssh_key_path).read_text()
    probe = (
        "echo WHO=$(id -un); echo SECRET=${SECRET_KEY:-none}; echo DBURL=${DATABASE_URL:-none}; "
        # The checkout shows nothing but the Python environment bound back read-only.
        f"echo APP=$(ls -A {django_settings.BASE_DIR} | grep -vx .venv | wc -l); "
        f"echo DOTENV=$(cat {django_settings.BASE_DIR}/.env {django_settings.BASE_DIR}/manage.py"
        " 2>/dev/null | wc -c); "
        f"echo DATA=$(ls -A {django_settings.DATA_DIR} 2>/dev/null | wc -l); "
        f"echo KEYS=$(ls -A {settings.SSH_KEYS_DIR} 2>/dev/null | wc -l); "
        f"echo OTHERKEY=$(cat {other_key} 2>/dev/null | wc -c); "
        "echo MYSQL=$(ls -A /run/mysqld 2>/dev/null | wc -l); "
        "echo INIT=$(tr '\\\\0' ' ' < /proc/1/environ | grep -c SECRET_KEY); "
        "echo PROCS=$(ls /proc | grep -c '^[0-9]'); "
        f"touch {markers}/controller 2>/dev/null; echo TOUCHED=$?"
    )
    local_action = shell_shown("Local action", "")
    local_action[0] = {
        "name": "Local action",
        "local_action": {"module": "ansible.builtin.shell", "cmd": probe},
        "register": "out_local_action",
    }
    content = yaml.safe_dump(
        [
            play(
                *shell_shown("Target", f"id -un > {markers}/target; echo WHO=$(id -un)"),
                *shell_shown("Delegated", probe, delegate_to="localhost"),
                *local_action,
                {
                    "name": "Lookups",
                    "ansible.builtin.debug": {
                        "msg": "LOOKUP={{ lookup('pipe', 'id -un') }}"
                        "/{{ lookup('env', 'SECRET_KEY') | default('none', true) }}"
                    },
                },
                {
                    "name": "Own key",
                    "ansible.builtin.copy": {
                        "content": "{{ lookup('file', ansible_ssh_private_key_file) }}",
                        "dest": f"{markers}/own_key",
                    },
                },
            ),
            play(*shell_shown("Local play", probe), hosts="localhost"),
        ],
        sort_keys=False,
    )
    job = run_on_worker(playbook=make_playbook(content), server=target, user=member)
    assert job.status == Job.Status.SUCCESS, console(job)
    text = console(job)

    # Which side ran what: the target as infra-target, everything else in the sandbox.
    assert (markers / "target").read_text().strip() == "infra-target"
    assert Path(markers / "target").stat().st_uid != os.geteuid()
    assert labelled(text, "WHO") == ["infra-target"] + ["infra-runner"] * 3
    assert labelled(text, "LOOKUP") == ["infra-runner/none"]
    # Controller side: no secret, no app files, no database socket, no other key, no host view.
    for label, expected in [
        ("SECRET", "none"),
        ("DBURL", "none"),
        ("APP", "0"),
        ("DOTENV", "0"),
        ("DATA", "0"),
        ("KEYS", "0"),
        ("OTHERKEY", "0"),
        ("MYSQL", "0"),
        ("INIT", "0"),
    ]:
        assert labelled(text, label) == [expected] * 3, label
    assert all(int(n) < 20 for n in labelled(text, "PROCS"))  # its own pid namespace
    assert labelled(text, "TOUCHED") == ["1"] * 3 and not (markers / "controller").exists()
    assert CANARY_SECRET not in text
    # The one key it may read is the job's own copy of the target's key.
    assert (markers / "own_key").read_text().strip() == own_key.strip()


def test_a_user_runs_the_local_server_inside_the_sandbox(inline_tasks, member, markers):
    local = ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)
    playbook = make_playbook(
        yaml.safe_dump(
            [
                play(
                    *shell_shown(
                        "Probe",
                        f"echo WHO=$(id -un); touch {markers}/local 2>/dev/null; echo TOUCHED=$?",
                    )
                )
            ]
        )
    )
    with inline_tasks():
        job = job_launch(playbook=playbook, server=local, user=member)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert labelled(console(job), "WHO") == ["infra-runner"]
    assert labelled(console(job), "TOUCHED") == ["1"] and not (markers / "local").exists()


def test_the_clean_environment_holds_even_with_the_sandbox_off(
    inline_tasks, super_admin, settings, monkeypatch
):
    settings.RUNNER_SANDBOX = "off"
    monkeypatch.setenv("SECRET_KEY", CANARY_SECRET)
    local = ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)
    playbook = make_playbook(
        yaml.safe_dump([play(*shell_shown("Env", "echo SECRET=${SECRET_KEY:-none}"))])
    )
    with inline_tasks():
        job = job_launch(playbook=playbook, server=local, user=super_admin)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert labelled(console(job), "SECRET") == ["none"]


# --- interactive playbooks --------------------------------------------------------------


@pytest.mark.parametrize(
    "prompting",
    [
        {"vars_prompt": [{"name": "answer", "prompt": "Answer?"}]},
        {"tasks": [{"ansible.builtin.pause": {"prompt": "Press enter"}}]},
        {"tasks": [{"ansible.builtin.pause": None}]},
    ],
    ids=["vars_prompt", "pause-prompt", "pause"],
)
def test_a_prompt_fails_the_job_at_once_and_nothing_after_it_runs(
    inline_tasks, super_admin, markers, prompting
):
    local = ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)
    after = shell_shown("After", "sleep 2; echo AFTER=ran")
    content = yaml.safe_dump(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                **prompting,
                "tasks": [*prompting.get("tasks", []), *after],
            }
        ]
    )
    started = time.monotonic()
    with inline_tasks():
        job = job_launch(playbook=make_playbook(content), server=local, user=super_admin)
    job.refresh_from_db()
    assert time.monotonic() - started < 15
    assert job.status == Job.Status.FAILED and job.error_message == PROMPT_MESSAGE
    assert labelled(console(job), "AFTER") == []


def test_a_prompt_answered_by_an_extra_var_is_no_prompt(inline_tasks, super_admin):
    local = ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)
    content = yaml.safe_dump(
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "vars_prompt": [{"name": "answer", "prompt": "Answer?"}],
                "tasks": [{"ansible.builtin.debug": {"msg": "ANSWER={{ answer }}"}}],
            }
        ]
    )
    with inline_tasks():
        job = job_launch(
            playbook=make_playbook(content),
            server=local,
            user=super_admin,
            extra_vars={"answer": "given"},
        )
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert labelled(console(job), "ANSWER") == ["given"]


# --- no sandbox, no run -----------------------------------------------------------------


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(sandbox, "BWRAP", "bwrap-is-not-installed")
    monkeypatch.setattr(sandbox, "_PROBED", set())


def test_without_bwrap_a_job_fails_at_once_with_a_clear_message(
    inline_tasks, super_admin, no_bwrap
):
    local = ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)
    with inline_tasks():
        job = job_launch(
            playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
            server=local,
            user=super_admin,
        )
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "bubblewrap (bwrap) is not installed" in job.error_message
    assert "RUNNER_SANDBOX=off" in job.error_message


def test_without_bwrap_the_system_check_reports_an_error(no_bwrap):
    [error] = checks.sandbox_ready(None)
    assert error.id == "automation.E001" and "bubblewrap" in error.msg


def test_a_missing_runner_user_is_a_system_check_error(settings, monkeypatch):
    monkeypatch.setattr(sandbox, "_PROBED", set())
    settings.RUNNER_USER = "no-such-user-here"
    [error] = checks.sandbox_ready(None)
    assert error.id == "automation.E001" and "no-such-user-here" in error.msg


def test_sandbox_off_is_a_warning_and_a_bad_value_an_error(settings):
    settings.RUNNER_SANDBOX = "off"
    assert [m.id for m in checks.sandbox_ready(None)] == ["automation.W001"]
    settings.RUNNER_SANDBOX = "firejail"
    assert [m.id for m in checks.sandbox_ready(None)] == ["automation.E002"]


def test_without_the_sandbox_a_save_is_refused_not_checked_unconfined(no_bwrap):
    with pytest.raises(ValidationError, match="cannot be checked"):
        validation.syntax_check("- hosts: all\n  tasks: []\n")


# --- the save-time syntax check ---------------------------------------------------------


def test_syntax_check_lookups_run_nothing_on_the_controller(markers):
    marker = markers / "syntax"
    content = f"- hosts: \"{{{{ lookup('pipe', 'id -un > {marker}') }}}}\"\n  tasks: []\n"
    with contextlib.suppress(ValidationError):  # refused or not, what matters is the marker
        validation.syntax_check(content)
    assert not marker.exists()


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/passwd"])
def test_syntax_check_errors_never_quote_another_file(path):
    with pytest.raises(ValidationError) as caught:
        validation.syntax_check(f"- import_playbook: {path}\n")
    message = " ".join(caught.value.messages)
    assert "root:" not in message and "/bin/" not in message
    assert "syntax-check failed" in message


def test_syntax_check_errors_still_quote_the_playbook_itself():
    with pytest.raises(ValidationError) as caught:
        validation.syntax_check("- hosts: all\n  tasks:\n    - ansible.builtin.debug: {msg: [\n")
    assert "playbook.yml" in " ".join(caught.value.messages)


def test_a_syntax_check_that_hangs_is_stopped_with_nothing_left_behind(monkeypatch):
    monkeypatch.setattr(validation, "SYNTAX_CHECK_TIMEOUT", 3)
    marker = "83.1717"
    with pytest.raises(ValidationError, match="did not finish within 3 s"):
        validation.syntax_check(f"- hosts: \"{{{{ lookup('pipe', 'sleep {marker}') }}}}\"\n")
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 1


# --- pieces -----------------------------------------------------------------------------


def test_unsafe_yaml_tags_every_string_at_every_depth_and_keeps_other_types():
    value = {"a": "{{ x }}", "b": [1, 2.5, True, None, {"{{ k }}": ["{{ deep }}"]}], "c": "é\n"}
    text = unsafe_yaml(value)
    assert text.count("!unsafe") == 7  # keys a, b, c, "{{ k }}"; values of a and c; "{{ deep }}"

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    assert yaml.load(text, Loader=Loader) == value  # noqa: S506 - SafeLoader subclass


def test_only_a_first_meeting_with_the_jobs_own_host_is_adopted(settings, tmp_path):
    target_key = "AAAAC3NzaC1lZDI1NTE5AAAAIHg2VbQ1Z9e7eWc8JmOe1s2mWmG2oQm0mX3o7xJmWbq1"
    planted = "AAAAC3NzaC1lZDI1NTE5AAAAIF7d2hYxX2v1sQy3r8m2nQm0mX3o7xJmWbq1aaaaaaaa"
    settings.SSH_KNOWN_HOSTS.write_text(f"[10.0.0.9]:22 ssh-ed25519 {target_key}\n")
    learned = tmp_path / "learned"
    learned.write_text(
        f"[127.0.0.1]:2222 ssh-ed25519 {target_key}\n"
        f"[127.0.0.1]:3333 ssh-ed25519 {planted}\n"
        f"[10.0.0.9]:22 ssh-ed25519 {planted}\n"
    )
    added = known_hosts_adopt(learned, {"[127.0.0.1]:2222", "[10.0.0.9]:22"})
    shared = settings.SSH_KNOWN_HOSTS.read_text()
    assert added == 1
    assert f"[127.0.0.1]:2222 ssh-ed25519 {target_key}" in shared
    assert "3333" not in shared and planted not in shared
