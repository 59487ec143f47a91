"""The production pair as `make serve` starts it (scripts/serve.sh: gunicorn + WhiteNoise with
DEBUG=False, and a worker), driven in a real browser: styles and HTMX load from hashed static
names, a job is watched live to success, and a page of each app renders."""

import os
import signal
import socket
import subprocess
import time

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import expect

from automation.services.playbooks import playbook_create
from inventory.models import Server
from tests.e2e.conftest import PASSWORD
from tests.factories import ServerFactory
from tests.sshd import free_port
from tests.worker import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

PLAYBOOK = """\
- name: Production demo
  hosts: all
  gather_facts: false
  tasks:
    - name: First step
      ansible.builtin.debug:
        msg: first
    - name: Wait a little
      ansible.builtin.pause:
        seconds: 2
    - name: Last step
      ansible.builtin.debug:
        msg: last
"""


@pytest.fixture
def production(transactional_db, tmp_path):
    """scripts/serve.sh on the test database; yields its base URL; stops it with SIGTERM."""
    port = free_port()
    env = {
        **worker_env(),
        "PORT": str(port),
        "SECRET_KEY": "production-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        # Production refuses to start without its own credentials key (inventory.E001).
        "CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "SERVE_SEED": "0",
        "WEB_WORKERS": "2",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    for name in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "serve.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail(f"serve.sh did not start: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_production_server_serves_styles_htmx_and_a_live_console(
    page, production, super_admin, shot
):
    # The tests hash passwords with MD5 for speed; the server uses the production hashers.
    super_admin.password = PBKDF2PasswordHasher().encode(PASSWORD, "productionsalt")
    super_admin.save(update_fields=["password"])
    local = ServerFactory(
        hostname="localhost", ip_address="127.0.0.1", connection=Server.Connection.LOCAL
    )
    playbook = playbook_create(name="Production demo", description="", content=PLAYBOOK, user=None)
    static = []
    page.on(
        "response",
        lambda response: (
            static.append((response.url, response.status, response.headers))
            if "/static/" in response.url
            else None
        ),
    )
    page.goto(f"{production}/login/")
    page.fill("#id_username", super_admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    # Styles applied (the stylesheet loaded), from hashed names with a year-long cache.
    assert page.evaluate("getComputedStyle(document.body).margin") != "8px"
    assert static and all(status == 200 for _, status, _ in static), static
    css = [headers for url, _, headers in static if url.endswith(".css")]
    assert css and "immutable" in css[0].get("cache-control", "")
    assert any("htmx" in url for url, _, _ in static)
    shot("dashboard")

    page.goto(f"{production}/jobs/new/?playbook={playbook.pk}&server={local.pk}")
    page.click("text=Launch")
    console = page.locator("#console")
    expect(console).to_contain_text("TASK [First step]", timeout=30_000)
    expect(page.locator("#job-status")).to_have_text("Running")
    expect(console).to_contain_text("PLAY RECAP", timeout=30_000)  # arrived by HTMX polling
    expect(page.locator("#job-status")).to_have_text("Success")
    shot("job")

    for path, heading in [
        ("/servers/", "Servers"),
        ("/playbooks/", "Playbooks"),
        ("/jobs/", "Jobs"),
        ("/analytics/", "Analytics"),
        ("/audit/", "Audit"),
        ("/users/", "Users"),
        ("/database/", "Database"),
    ]:
        page.goto(f"{production}{path}")
        expect(page.locator("h1")).to_contain_text(heading)
