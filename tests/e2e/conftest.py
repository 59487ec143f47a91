"""Browser journeys: Playwright driving Debian's Chromium against pytest-django's live server.

Chromium is installed by scripts/system-deps.sh (`make test`, `.ci/run`); no browser is ever
downloaded. Without /usr/bin/chromium the journeys are skipped with a reason, except in CI
(CI=true), where a missing browser fails the run. Each test saves screenshots of the pages it
visits under test-artifacts/e2e/; a failing test also saves its last screenshot and page HTML.
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORD = "pass-w0rd-42"  # tests.factories.UserFactory's password


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def _chromium_present():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: scripts/system-deps.sh --test installs it")
        pytest.skip(f"{CHROMIUM} is not installed (scripts/system-deps.sh --test installs it)")


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_next_to_playwrights_loop():
    """Playwright's sync API runs an event loop in this thread; the ORM calls in fixtures (and
    the database flush after each test) are plain synchronous code, which Django refuses next
    to a running loop. Set for the rest of the session, since the flush runs after function
    fixtures are undone; tests that start deployment checks remove it from their environment."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:120]


@pytest.fixture
def page(page, request):
    """Playwright's page, with a default timeout and failure artefacts. A Content-Security-
    Policy violation (the browser logs "Refused to ...") fails the journey: it means a template
    or htmx needs something the policy forbids, and that part of the page silently broke."""
    page.set_default_timeout(10_000)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    assert violations == [], violations
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = _slug(request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
        (ARTIFACTS / f"FAILED-{name}.html").write_text(page.content())


@pytest.fixture
def shot(page, request):
    """shot("servers") saves a full-page screenshot named after the test and the step."""

    def take(step):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"{_slug(request.node.name)}--{step}.png"), full_page=True
        )

    return take


@pytest.fixture
def login(page, live_server):
    def log_in(person, password=PASSWORD):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", person.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")

    return log_in
