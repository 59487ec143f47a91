"""The sentence a failed job shows for what OpenSSH and Ansible printed (the raw lines stay in
the console). The raw texts are the ones ansible-core 2.19 and OpenSSH 9 print."""

from automation.runner.messages import first_failure

HOST_KEY_CHANGED = (
    "Failed to connect to the host via ssh: "
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
    "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
    "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
    "Host key verification failed."
)
KEY_REFUSED = (
    "Task failed: Failed to connect to the host via ssh: deploy@10.0.0.5: "
    "Permission denied (publickey)."
)
NO_GREETING = (
    "Failed to connect to the host via ssh: Connection timed out during banner exchange\n"
    "Connection to 10.0.0.5 port 22 timed out"
)
REFUSED = (
    "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.5 port 22: "
    "Connection refused"
)


def unreachable(raw):
    return first_failure("runner_on_unreachable", {"host": "web1"}, raw)


def test_a_changed_host_key_says_what_to_do_without_the_banner(settings):
    message = unreachable(HOST_KEY_CHANGED)
    assert message.startswith("Host web1 presented a different SSH host key")
    assert str(settings.SSH_KNOWN_HOSTS) in message and "@@@" not in message


def test_a_refused_key_names_the_account_and_what_to_check():
    message = unreachable(KEY_REFUSED)
    assert message.startswith("Host web1 refused the SSH key (deploy@10.0.0.5)")
    assert "authorized_keys" in message and "Permission denied" not in message


def test_a_host_that_never_greets_says_so():
    assert unreachable(NO_GREETING).startswith(
        "Host web1 accepted the connection but sent no SSH greeting"
    )


def test_a_closed_port_says_nothing_listens():
    assert unreachable(REFUSED).startswith("Host web1 refused the connection: nothing listens")


def test_an_unknown_ssh_error_keeps_ansibles_words():
    assert unreachable("Something new went wrong") == (
        "Host web1 unreachable: Something new went wrong"
    )


def test_a_failed_task_keeps_its_task_name_and_message():
    data = {"host": "web1", "task": "Install nginx"}
    assert first_failure("runner_on_failed", data, "No package matching 'nginx'") == (
        "Task 'Install nginx' failed on host web1: No package matching 'nginx'"
    )
    assert first_failure("runner_on_failed", data, KEY_REFUSED).startswith(
        "Task 'Install nginx' failed: Host web1 refused the SSH key"
    )


def test_the_message_is_bounded():
    assert len(unreachable("x" * 5000)) == 2000
