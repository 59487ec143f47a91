"""The access matrix: every URL pattern of the project, for every persona, against a table.

``test_every_url_pattern_has_an_entry`` walks the URL resolver: a route without a line in
``MATRIX`` (or an explicit reason in ``SKIPPED``) fails it. To add a route, add one line:

    "route_name": Route(kwargs, get=(anonymous, user, admin, super_admin), post=(...) or None),

``kwargs`` builds the URL arguments from the demo objects (``d.server``, ``d.playbook``,
``d.job``, ``d.target`` a plain user, ``d.admin``/``d.super_admin`` the personas); a status is an
int, or ``LOGIN`` for "redirected to the login page". ``post`` is given for views that write:
the POST carries no valid data (``post_data`` can add some), so it must not change anything
and shows who gets through the access check (403 = refused, 405 = not a POST route).
"""

from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path, reverse

from accounts.models import User
from tests.factories import (
    CredentialFactory,
    JobFactory,
    PlaybookFactory,
    PlaybookVersionFactory,
    ProjectSnapshotFactory,
    ProjectSyncFactory,
    ServerFactory,
    ServerGroupFactory,
    UserFactory,
)

LOGIN = "login"  # 302 to our login page, with ?next=
PERSONAS = ("anonymous", "user", "admin", "super_admin")

# Read-only for everyone logged in (the coming-soon pages of other issues, the dashboard).
ANY_LOGGED_IN = (LOGIN, 200, 200, 200)
ADMINS_ONLY = (LOGIN, 403, 200, 200)


# Writes by admins that redirect when done; GETs of POST-only routes.
ADMINS_WRITE = (LOGIN, 403, 302, 302)
ADMIN_POST_ONLY = (LOGIN, 403, 405, 405)
POST_ONLY = (LOGIN, 405, 405, 405)


def no_kwargs(d):
    return {}


def SERVER(d):  # noqa: N802 - reads as a constant in the table
    return {"pk": d.server.pk}


def PLAYBOOK(d):  # noqa: N802
    return {"pk": d.playbook.pk}


def JOB(d):  # noqa: N802
    return {"job_id": d.job.job_id}


def GROUP(d):  # noqa: N802
    return {"pk": d.group.pk}


def PROJECT(d):  # noqa: N802
    return {"pk": d.snapshot.project_id}


def CREDENTIAL(d):  # noqa: N802
    return {"pk": d.credential.pk}


def SYNC(d):  # noqa: N802
    return {"sync_id": d.sync.sync_id}


@dataclass(frozen=True)
class Route:
    kwargs: object = no_kwargs
    get: tuple = ANY_LOGGED_IN
    post: tuple | None = None
    post_data: dict = field(default_factory=dict)


MATRIX = {
    # accounts
    "login": Route(get=(200, 302, 302, 302), post=(200, 302, 302, 302)),
    "logout": Route(get=(LOGIN, 405, 405, 405), post=(LOGIN, 302, 302, 302)),
    "user_list": Route(get=ADMINS_ONLY),
    "user_create": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "user_edit": Route(lambda d: {"pk": d.target.pk}, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "user_password": Route(lambda d: {"pk": d.target.pk}, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "settings": Route(post=ANY_LOGGED_IN),
    "settings_password": Route(post=ANY_LOGGED_IN),
    # auditing: read-only, no route accepts a POST
    "audit_list": Route(get=ADMINS_ONLY, post=(LOGIN, 403, 405, 405)),
    "audit_export": Route(get=ADMINS_ONLY, post=(LOGIN, 403, 405, 405)),
    # inventory (the demo server has a job in its history, so a delete is refused: 302)
    "server_list": Route(),
    "server_new": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "server_detail": Route(SERVER),
    "server_edit": Route(SERVER, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "server_delete": Route(SERVER, get=ADMINS_ONLY, post=ADMINS_WRITE),
    "server_toggle_active": Route(SERVER, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    "server_metrics": Route(SERVER),
    "server_chart": Route(SERVER),
    "server_refresh": Route(SERVER, get=POST_ONLY, post=(LOGIN, 302, 302, 302)),
    "server_test": Route(SERVER, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    "server_forget_host_key": Route(SERVER, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    # credentials: admins only, users pick them by name (the demo credential is in use by the
    # demo server, so a delete is refused: 302 back to its page)
    "credential_list": Route(get=ADMINS_ONLY),
    "credential_new": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "credential_edit": Route(CREDENTIAL, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "credential_delete": Route(CREDENTIAL, get=ADMINS_ONLY, post=ADMINS_WRITE),
    "group_list": Route(get=ADMINS_ONLY),
    "group_new": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "group_edit": Route(GROUP, get=ADMINS_ONLY, post=ADMINS_ONLY),
    # The admin's POST deletes the group: the super_admin's then finds none.
    "group_delete": Route(GROUP, get=ADMINS_ONLY, post=(LOGIN, 403, 302, 404)),
    # playbooks
    "playbook_list": Route(),
    "playbook_history_all": Route(),
    "playbook_new": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "playbook_upload": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "playbook_detail": Route(PLAYBOOK),
    "playbook_edit": Route(PLAYBOOK, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "playbook_replace": Route(PLAYBOOK, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "playbook_delete": Route(PLAYBOOK, get=ADMINS_ONLY, post=ADMINS_WRITE),
    "playbook_undelete": Route(PLAYBOOK, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    "playbook_history": Route(PLAYBOOK),
    "playbook_diff": Route(PLAYBOOK),
    "playbook_restore": Route(
        lambda d: {"pk": d.playbook.pk, "version_id": d.version.pk},
        get=ADMIN_POST_ONLY,
        post=ADMINS_WRITE,
    ),
    # projects: everyone reads, admins manage (the demo sync is pending)
    "project_list": Route(),
    "project_new": Route(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "project_detail": Route(PROJECT),
    "project_edit": Route(PROJECT, get=ADMINS_ONLY, post=ADMINS_ONLY),
    "project_sync": Route(PROJECT, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    "project_delete": Route(PROJECT, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    "project_undelete": Route(PROJECT, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    "project_compare": Route(PROJECT),
    "project_revision": Route(
        lambda d: {"pk": d.snapshot.project_id, "revision": d.snapshot.revision}
    ),
    "project_sync_detail": Route(SYNC),
    "project_sync_log": Route(SYNC),
    "project_sync_download": Route(SYNC),
    "project_sync_cancel": Route(SYNC, get=ADMIN_POST_ONLY, post=ADMINS_WRITE),
    # jobs (the demo job is pending and belongs to the plain user)
    "dashboard": Route(),
    "dashboard_running": Route(),
    "analytics": Route(),
    "job_list": Route(),
    "job_new": Route(post=ANY_LOGGED_IN),
    "job_detail": Route(JOB),
    "job_row": Route(JOB),
    "job_log": Route(JOB),
    "job_download": Route(JOB),
    "job_cancel": Route(JOB, get=POST_ONLY, post=(LOGIN, 302, 302, 302)),
    "job_relaunch": Route(JOB, get=POST_ONLY, post=(LOGIN, 302, 302, 302)),
    # maintenance: the live database report is a super_admin's page
    "database_report": Route(get=(LOGIN, 403, 403, 200)),
    # Prometheus scrapes without a login, from an allowed address (the test client's 127.0.0.1)
    # or with the token; what a session may do does not change that.
    "metrics": Route(get=(200, 200, 200, 200), post=(405, 405, 405, 405)),
    # Load balancers probe without a login; 503 while no worker reports (none runs here).
    "healthz": Route(get=(503, 503, 503, 503), post=(405, 405, 405, 405)),
    # Django admin: super_admin only; its other routes are the admin's own business.
    "admin:index": Route(get=(302, 302, 302, 200)),
}

# Patterns deliberately not walked, with the reason. Matched by name or "namespace:*".
SKIPPED = {
    "admin:*": "Django admin (super_admin only, read-only audit models): admin:index is checked",
}

# Who may edit whom on the users page: an admin's target must not be a super_admin.
EXTRA_CASES = [
    # (persona, url name, kwargs, method, status)
    ("admin", "user_edit", lambda d: {"pk": d.other_super_admin.pk}, "get", 403),
    ("admin", "user_password", lambda d: {"pk": d.other_super_admin.pk}, "post", 403),
    ("super_admin", "user_edit", lambda d: {"pk": d.other_super_admin.pk}, "get", 200),
    # A job may be cancelled by its owner or an admin, not by another user.
    ("user", "job_cancel", lambda d: {"job_id": JobFactory(user=d.admin).job_id}, "post", 403),
    # Local-connection servers are a super_admin's: an admin may not change them.
    ("admin", "server_edit", lambda d: {"pk": d.local_server.pk}, "get", 403),
    ("admin", "server_delete", lambda d: {"pk": d.local_server.pk}, "post", 403),
    ("super_admin", "server_edit", lambda d: {"pk": d.local_server.pk}, "get", 200),
]


def walk(patterns=None, namespace=""):
    """Every URL pattern as (full name, route) in the project's resolver, recursively."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            # An unnamed pattern gets a name no table line can hold: it fails unless skipped.
            name = f"{namespace}{entry.name or f'(unnamed {entry.pattern})'}"
            yield name, str(entry.pattern), entry.callback


def is_skipped(name):
    return name in SKIPPED or (":" in name and name.split(":")[0] + ":*" in SKIPPED)


def routes_without_an_entry():
    return sorted(
        f"{name} -> {route}"
        for name, route, _ in walk()
        if name not in MATRIX and not is_skipped(name)
    )


def test_every_url_pattern_has_an_entry():
    missing = routes_without_an_entry()
    assert not missing, f"URL patterns without a line in the access matrix: {missing}"
    stale = sorted(set(MATRIX) - {name for name, _, _ in walk()})
    assert not stale, f"Access matrix lines for routes that no longer exist: {stale}"


# A urlconf with one route more than the project's, to prove the walk notices it.
urlpatterns = [
    path("", include("infra_automation.urls")),
    path("brand-new/<int:pk>/", lambda request, pk: None, name="brand_new"),
    path("unnamed/", lambda request: None),
]


def test_a_route_without_a_line_is_reported(settings):
    settings.ROOT_URLCONF = __name__
    assert routes_without_an_entry() == [
        "(unnamed unnamed/) -> unnamed/",
        "brand_new -> brand-new/<int:pk>/",
    ]


def test_no_view_is_exempt_from_csrf():
    exempt = [name for name, _, view in walk() if getattr(view, "csrf_exempt", False)]
    assert not exempt


@dataclass
class Demo:
    user: User
    admin: User
    super_admin: User
    target: User
    other_super_admin: User
    server: object
    playbook: object
    job: object
    version: object
    local_server: object
    snapshot: object
    sync: object
    credential: object
    group: object


@pytest.fixture
def demo(user, admin, super_admin):
    credential = CredentialFactory()
    server = ServerFactory(become_credential=credential)
    playbook = PlaybookFactory()
    return Demo(
        user=user,
        admin=admin,
        super_admin=super_admin,
        target=UserFactory(username="target"),
        other_super_admin=UserFactory(username="boss2", role=User.Role.SUPER_ADMIN),
        server=server,
        playbook=playbook,
        job=JobFactory(server=server, playbook=playbook, user=user),
        version=PlaybookVersionFactory(playbook_id=playbook.pk, playbook_name=playbook.name),
        local_server=ServerFactory(connection="local"),
        snapshot=(snapshot := ProjectSnapshotFactory()),
        sync=ProjectSyncFactory(project=snapshot.project),
        credential=credential,
        group=ServerGroupFactory(),
    )


def client_for(demo, persona, **kwargs):
    client = Client(**kwargs)
    if persona != "anonymous":
        client.force_login(getattr(demo, persona))
    return client


def check(response, expected, url):
    if expected == LOGIN:
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith(reverse("login") + "?next="), url
    else:
        assert response.status_code == expected, (url, response.status_code, expected)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_access_matrix(name, demo):
    route = MATRIX[name]
    url = reverse(name, kwargs=route.kwargs(demo))
    for persona, expected in zip(PERSONAS, route.get, strict=True):
        check(client_for(demo, persona).get(url), expected, f"GET {url} as {persona}")
    if route.post is None:
        return
    for persona, expected in zip(PERSONAS, route.post, strict=True):
        response = client_for(demo, persona).post(url, route.post_data)
        check(response, expected, f"POST {url} as {persona}")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(n for n, r in MATRIX.items() if r.post))
def test_every_post_needs_a_csrf_token(name, demo):
    route = MATRIX[name]
    url = reverse(name, kwargs=route.kwargs(demo))
    client = client_for(demo, "super_admin", enforce_csrf_checks=True)
    assert client.post(url, route.post_data).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("persona, name, kwargs, method, expected", EXTRA_CASES)
def test_object_level_access(persona, name, kwargs, method, expected, demo):
    url = reverse(name, kwargs=kwargs(demo))
    response = getattr(client_for(demo, persona), method)(url)
    check(response, expected, f"{method.upper()} {url} as {persona}")
