"""Playbooks: create, upload, validation, storage, edit conflicts, delete, restore, roles."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.models import Playbook, PlaybookVersion
from automation.services import playbooks as services
from tests.factories import SAMPLE_PLAYBOOK, JobFactory, PlaybookFactory

pytestmark = pytest.mark.django_db

GOOD = """\
- name: Web servers
  hosts: all
  gather_facts: false
  tasks:
    - name: Install nginx
      ansible.builtin.debug:
        msg: installing
"""
XSS = "<script>alert('x')</script>"


def files(settings):
    return sorted(p.name for p in settings.PLAYBOOKS_DIR.glob("*") if p.is_file())


def upload(name, data):
    return SimpleUploadedFile(name, data, content_type="application/x-yaml")


def create(client, **overrides):
    data = {"name": "Web", "description": "d", "content": GOOD}
    data.update(overrides)
    return client.post("/playbooks/new/", data)


# --- create ----------------------------------------------------------------------------


def test_admin_creates_a_playbook_stored_under_a_generated_name(as_admin, admin, settings):
    response = create(as_admin)
    playbook = Playbook.objects.get()
    assert response.status_code == 302 and response.url == f"/playbooks/{playbook.pk}/"
    assert playbook.file_path.startswith("playbook-") and playbook.read_content() == GOOD
    entry = PlaybookVersion.objects.get()
    assert (entry.action, entry.user, entry.new_content, entry.old_content) == (
        "created",
        admin,
        GOOD,
        "",
    )
    assert entry.new_sha256 == services.sha256_text(GOOD) == playbook.content_sha256
    assert entry.ip_address == "127.0.0.1"


def test_tab_indentation_is_refused_with_a_hint_not_rewritten(as_admin):
    # Tabs used to become two spaces, which also changed tabs inside literal blocks; YAML
    # forbids tab indentation, so say so (test_playbook_text.py: tabs elsewhere are kept).
    response = create(as_admin, content=GOOD.replace("    - name", "\t\t- name"))
    assert "YAML indents with spaces" in response.content.decode()
    assert not Playbook.objects.exists()


def test_crlf_becomes_lf(as_admin):
    create(as_admin, content=GOOD.replace("\n", "\r\n"))
    assert Playbook.objects.get().read_content() == GOOD


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "required"),
        ("   \n", "empty"),
        ("- hosts: all\n  tasks: [\n", "YAML error at line 3, column 1"),
        ("- hosts: all\n   bad: indent\n  x: 1\n", "YAML error at line"),
        ("just a string", "list of plays"),
        ("[]", "an empty list"),
        ("hosts: all\ntasks: []\n", "list of plays"),
        ("- name: no hosts\n  tasks: []\n", "Play 1 is not a play"),
        ("- hosts: all\n  tasks:\n    - no_such_module_xyz: {a: 1}\n", "syntax-check failed"),
        ("- hosts: all\n  nonsense_keyword: 1\n", "syntax-check failed"),
        ("- hosts: all\n  tasks: []\n\x00", "Null characters are not allowed"),
    ],
)
def test_invalid_content_is_refused_and_nothing_stored(as_admin, settings, content, message):
    response = create(as_admin, content=content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Playbook.objects.exists() and not PlaybookVersion.objects.exists()
    assert files(settings) == []


def test_syntax_error_shows_line_and_column_not_temp_paths(as_admin):
    response = create(
        as_admin, content="- hosts: all\n  tasks:\n    - name: x\n      no_such_module_xyz: {}\n"
    )
    text = response.content.decode()
    assert "playbook.yml:3" in text and "/tmp/" not in text


def test_oversize_content_is_refused(as_admin, settings):
    settings.PLAYBOOK_MAX_BYTES = 100
    response = create(as_admin, content=GOOD + "# " + "x" * 200 + "\n")
    assert b"the limit is 100 bytes" in response.content
    assert not Playbook.objects.exists()


@pytest.mark.parametrize(
    "name, message", [("", "required"), ("   ", "required"), ("x" * 256, "at most 255")]
)
def test_bad_names_are_refused(as_admin, name, message):
    assert message in create(as_admin, name=name).content.decode()
    assert not Playbook.objects.exists()


def test_duplicate_name_is_refused_case_insensitively(as_admin):
    PlaybookFactory(name="Web")
    assert b"already exists" in create(as_admin, name="WEB").content
    assert Playbook.objects.count() == 1


def test_a_failing_database_write_leaves_no_file(db, settings):
    PlaybookFactory(name="Taken")
    before = files(settings)
    with pytest.raises(services.NameTaken, match="already exists"):
        services.playbook_create(name="Taken", description="", content=GOOD, user=None)
    assert files(settings) == before
    assert PlaybookVersion.objects.count() == 0


# --- upload ----------------------------------------------------------------------------


def test_upload_creates_a_playbook_and_ignores_the_uploaded_name(as_admin, settings, tmp_path):
    response = as_admin.post(
        "/playbooks/upload/",
        {
            "name": "Uploaded",
            "description": "",
            "file": upload("../../etc/passwd.yml", GOOD.encode()),
        },
    )
    assert response.status_code == 302
    playbook = Playbook.objects.get()
    assert "passwd" not in playbook.file_path and playbook.file_path.startswith("playbook-")
    assert playbook.absolute_path.parent == settings.PLAYBOOKS_DIR.resolve()
    assert not (tmp_path / "etc").exists()
    assert PlaybookVersion.objects.get().action == "uploaded"


def test_upload_with_a_utf8_bom_is_accepted(as_admin):
    as_admin.post(
        "/playbooks/upload/",
        {"name": "Bom", "file": upload("p.yml", b"\xef\xbb\xbf" + GOOD.encode())},
    )
    assert Playbook.objects.get().read_content() == GOOD


@pytest.mark.parametrize(
    "filename, data, message",
    [
        ("p.yml", b"", "The file is empty"),
        ("p.yml", b"\x7fELF\x00\x01\x02binary", "binary"),
        ("p.yml", "- hosts: all\n  vars: {a: caf\u00e9}\n".encode("latin-1"), "not UTF-8"),
        ("p.txt", GOOD.encode(), ".yml or .yaml"),
        ("p.yml", b"key: [unclosed", "YAML error at line 1"),
        ("p.yaml", b"- just\n- strings\n", "Play 1 is not a play"),
        ("p.yml", b"- hosts: all\n  tasks:\n    - bogus_module_zz: {}\n", "syntax-check failed"),
    ],
)
def test_bad_uploads_are_refused(as_admin, settings, filename, data, message):
    response = as_admin.post("/playbooks/upload/", {"name": "Bad", "file": upload(filename, data)})
    assert response.status_code == 200 and message in response.content.decode()
    assert not Playbook.objects.exists() and files(settings) == []


def test_oversize_upload_is_refused(as_admin, settings):
    settings.PLAYBOOK_MAX_BYTES = 50
    response = as_admin.post(
        "/playbooks/upload/", {"name": "Big", "file": upload("p.yml", GOOD.encode())}
    )
    assert b"the limit is 50" in response.content and not Playbook.objects.exists()


def test_upload_without_a_file_is_a_form_error(as_admin):
    response = as_admin.post("/playbooks/upload/", {"name": "None"})
    assert response.status_code == 200 and b"required" in response.content


# --- edit, conflicts -------------------------------------------------------------------


def loaded(playbook):
    """The fingerprint an edit form of ``playbook`` carries when it is opened now."""
    playbook.refresh_from_db()
    return playbook.edit_fingerprint(playbook.read_content())


def edit(client, playbook, content, base, **extra):
    data = {
        "name": playbook.name,
        "description": playbook.description,
        "content": content,
        "base_fingerprint": base,
    }
    data.update(extra)
    return client.post(f"/playbooks/{playbook.pk}/edit/", data)


def test_edit_writes_a_new_version_and_removes_the_old_file(
    as_admin, settings, django_capture_on_commit_callbacks
):
    playbook = PlaybookFactory(content=GOOD)
    old_file = playbook.file_path
    new = GOOD.replace("Install nginx", "Install apache")
    with django_capture_on_commit_callbacks(execute=True):
        response = edit(as_admin, playbook, new, loaded(playbook))
    assert response.status_code == 302
    playbook.refresh_from_db()
    assert playbook.read_content() == new and playbook.file_path != old_file
    assert files(settings) == [playbook.file_path]
    entry = PlaybookVersion.objects.get()
    assert entry.old_content == GOOD and entry.new_content == new
    assert "+1 -1 lines" in entry.changes_description
    assert "tasks added: Install apache" in entry.changes_description
    assert "tasks removed: Install nginx" in entry.changes_description


def test_two_concurrent_edits_the_second_gets_the_conflict_and_keeps_its_text(
    as_admin, client, super_admin
):
    playbook = PlaybookFactory(content=GOOD)
    base = loaded(playbook)
    first = GOOD.replace("installing", "first editor")
    second = GOOD.replace("installing", "second editor")
    assert edit(as_admin, playbook, first, base).status_code == 302
    client.force_login(super_admin)
    response = edit(client, playbook, second, base)
    text = response.content.decode()
    assert response.status_code == 200 and "Someone saved a newer version" in text
    assert "second editor" in text  # the user's text is kept in the form
    assert 'class="diff"' in text and "first editor" in text  # diff to the newer version
    playbook.refresh_from_db()
    assert playbook.read_content() == first  # nothing lost: the first save stands
    assert PlaybookVersion.objects.count() == 1
    # Saving again after review is deliberate: the form now carries the newer version's key.
    newer = loaded(playbook)
    assert f'value="{newer}"' in text
    assert edit(client, playbook, second, newer).status_code == 302
    playbook.refresh_from_db()
    assert playbook.read_content() == second


def test_invalid_edit_keeps_the_old_version(as_admin, settings):
    playbook = PlaybookFactory(content=GOOD)
    response = edit(as_admin, playbook, "- hosts: [", loaded(playbook))
    assert response.status_code == 200 and b"YAML error" in response.content
    playbook.refresh_from_db()
    assert playbook.read_content() == GOOD and files(settings) == [playbook.file_path]


def test_rename_through_edit(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    edit(as_admin, playbook, GOOD, loaded(playbook), name="Renamed")
    playbook.refresh_from_db()
    assert playbook.name == "Renamed" and PlaybookVersion.objects.get().playbook_name == "Renamed"


def test_replace_by_upload(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    new = GOOD.replace("nginx", "haproxy")
    response = as_admin.post(
        f"/playbooks/{playbook.pk}/replace/",
        {"file": upload("new.yml", new.encode()), "base_sha256": services.sha256_text(GOOD)},
    )
    assert response.status_code == 302
    playbook.refresh_from_db()
    assert playbook.read_content() == new and PlaybookVersion.objects.get().action == "replaced"


def test_replace_after_someone_else_changed_it_is_refused(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    response = as_admin.post(
        f"/playbooks/{playbook.pk}/replace/",
        {"file": upload("new.yml", GOOD.replace("nginx", "x").encode()), "base_sha256": "0" * 64},
    )
    assert b"changed since this page was loaded" in response.content
    playbook.refresh_from_db()
    assert playbook.read_content() == GOOD


# --- delete, history, diff, restore ----------------------------------------------------


def test_delete_is_soft_and_history_survives(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    job = JobFactory(playbook=playbook)
    assert b"Delete" in as_admin.get(f"/playbooks/{playbook.pk}/delete/").content
    as_admin.post(f"/playbooks/{playbook.pk}/delete/")
    playbook.refresh_from_db()
    assert not playbook.is_active and playbook.read_content() == GOOD
    assert job.playbook_id == playbook.pk
    assert PlaybookVersion.objects.get().action == "deleted"
    assert b"deleted" in as_admin.get(f"/playbooks/{playbook.pk}/history/").content
    assert playbook.name.encode() in as_admin.get("/playbooks/history/?action=deleted").content
    assert playbook.name.encode() not in as_admin.get("/playbooks/").content
    assert playbook.name.encode() in as_admin.get("/playbooks/?state=deleted").content


def test_history_survives_even_a_hard_delete(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    edit(as_admin, playbook, GOOD.replace("nginx", "x"), loaded(playbook))
    pk = playbook.pk
    Playbook.objects.filter(pk=pk).delete()
    entry = PlaybookVersion.objects.get(playbook_id=pk)
    response = as_admin.get(f"/playbooks/{pk}/diff/?to={entry.pk}")
    assert response.status_code == 200 and b"Install x" in response.content


def test_undelete(as_admin):
    playbook = PlaybookFactory(is_active=False)
    as_admin.post(f"/playbooks/{playbook.pk}/undelete/")
    playbook.refresh_from_db()
    assert playbook.is_active and PlaybookVersion.objects.get().action == "undeleted"


def test_deleted_playbook_cannot_be_edited_until_undeleted(as_admin):
    playbook = PlaybookFactory(is_active=False)
    response = as_admin.get(f"/playbooks/{playbook.pk}/edit/", follow=True)
    assert b"undelete it first" in response.content


def test_restore_writes_a_restored_entry(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    v2 = GOOD.replace("nginx", "apache")
    edit(as_admin, playbook, v2, loaded(playbook))
    first = services.playbook_update(
        playbook=playbook,
        user=None,
        content=GOOD.replace("nginx", "v3"),
        base_sha256=services.sha256_text(v2),
    )
    version = PlaybookVersion.objects.order_by("id").first()  # the v2 entry
    response = as_admin.post(f"/playbooks/{first.pk}/restore/{version.pk}/")
    assert response.status_code == 302
    playbook.refresh_from_db()
    assert playbook.read_content() == v2
    latest = PlaybookVersion.objects.order_by("-id").first()
    assert (
        latest.action == "restored"
        and f"restored version #{version.pk}" in latest.changes_description
    )


def test_restore_of_another_playbooks_version_is_404(as_admin):
    one, other = PlaybookFactory(), PlaybookFactory()
    services.playbook_set_active(playbook=other, user=None, active=False)
    version = PlaybookVersion.objects.get(playbook_id=other.pk)
    assert as_admin.post(f"/playbooks/{one.pk}/restore/{version.pk}/").status_code == 404


def test_diff_defaults_to_the_previous_version(as_admin):
    playbook = services.playbook_create(name="Two", description="", content=GOOD, user=None)
    services.playbook_update(
        playbook=playbook, user=None, content=GOOD.replace("nginx", "apache"), base_sha256=None
    )
    response = as_admin.get(f"/playbooks/{playbook.pk}/diff/")
    text = response.content.decode()
    assert response.status_code == 200
    assert '<span class="add-count">+1</span> <span class="del-count">-1</span>' in text
    assert '<td class="del">    - name: Install nginx</td>' in text
    assert '<td class="add">    - name: Install apache</td>' in text


def test_diff_between_any_two_versions(as_admin):
    playbook = PlaybookFactory(content=GOOD)
    a = services.playbook_update(
        playbook=playbook, user=None, content=GOOD + "# a\n", base_sha256=None
    )
    services.playbook_update(playbook=a, user=None, content=GOOD + "# b\n", base_sha256=None)
    v1, v2 = PlaybookVersion.objects.order_by("id")
    response = as_admin.get(f"/playbooks/{playbook.pk}/diff/?from={v1.pk}&to={v2.pk}")
    assert b"# a" in response.content and b"# b" in response.content


@pytest.mark.parametrize(
    "query", ["?to=abc", "?from=1.5&to=1", "?to=999999", "?from=-1", "?to=%00"]
)
def test_bad_diff_query_strings_are_404(as_admin, query):
    playbook = PlaybookFactory()
    services.playbook_set_active(playbook=playbook, user=None, active=False)
    assert as_admin.get(f"/playbooks/{playbook.pk}/diff/{query}").status_code == 404


def test_diff_with_a_version_of_another_playbook_is_404(as_admin):
    one, other = PlaybookFactory(), PlaybookFactory()
    services.playbook_set_active(playbook=one, user=None, active=False)
    services.playbook_set_active(playbook=other, user=None, active=False)
    theirs = PlaybookVersion.objects.get(playbook_id=other.pk)
    assert as_admin.get(f"/playbooks/{one.pk}/diff/?to={theirs.pk}").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "?playbook=abc",
        "?date_from=2024-13-40",
        "?action=EXPLODE",
        "?user=999999",
        "?date_from=2025-05-02&date_to=2025-05-01",
        "?page=zz",
    ],
)
def test_bad_history_filters_give_a_message_not_a_500(as_admin, query):
    PlaybookFactory()
    response = as_admin.get("/playbooks/history/" + query)
    assert response.status_code == 200


def test_history_filters(as_admin, admin, user):
    a, b = PlaybookFactory(name="Alpha"), PlaybookFactory(name="Beta")
    services.playbook_set_active(playbook=a, user=admin, active=False)
    services.playbook_set_active(playbook=b, user=user, active=False)
    text = as_admin.get(f"/playbooks/history/?user={admin.pk}").content.decode()
    assert "Alpha" in text.split('id="history"')[1] and "Beta" not in text.split('id="history"')[1]
    text = as_admin.get(f"/playbooks/history/?playbook={b.pk}").content.decode()
    assert (
        "Beta" in text.split('id="history"')[1] and ">Alpha<" not in text.split('id="history"')[1]
    )


# --- escaping --------------------------------------------------------------------------


def test_xss_payloads_render_escaped_everywhere(as_admin):
    content = GOOD.replace("installing", XSS)
    create(as_admin, name=f"Evil {XSS}", description=XSS, content=content)
    playbook = Playbook.objects.get()
    services.playbook_update(
        playbook=playbook, user=None, content=content + f"# {XSS}\n", base_sha256=None
    )
    for url in (
        "/playbooks/",
        f"/playbooks/{playbook.pk}/",
        f"/playbooks/{playbook.pk}/history/",
        f"/playbooks/{playbook.pk}/diff/",
        "/playbooks/history/",
        f"/playbooks/{playbook.pk}/edit/",
    ):
        body = as_admin.get(url).content.decode()
        assert "<script>alert" not in body, url
    assert "&lt;script&gt;" in as_admin.get(f"/playbooks/{playbook.pk}/diff/").content.decode()


# --- roles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/playbooks/new/"),
        ("post", "/playbooks/new/"),
        ("get", "/playbooks/upload/"),
        ("post", "/playbooks/upload/"),
        ("get", "/playbooks/{pk}/edit/"),
        ("post", "/playbooks/{pk}/edit/"),
        ("post", "/playbooks/{pk}/replace/"),
        ("post", "/playbooks/{pk}/delete/"),
        ("post", "/playbooks/{pk}/undelete/"),
        ("post", "/playbooks/{pk}/restore/{v}/"),
    ],
)
def test_user_cannot_write_playbooks(as_user, method, url):
    playbook = PlaybookFactory(content=GOOD)
    services.playbook_update(playbook=playbook, user=None, content=GOOD + "#\n", base_sha256=None)
    version = PlaybookVersion.objects.get()
    response = getattr(as_user, method)(
        url.format(pk=playbook.pk, v=version.pk), {"name": "x", "content": GOOD}
    )
    assert response.status_code == 403
    playbook.refresh_from_db()
    assert playbook.is_active and PlaybookVersion.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "/playbooks/",
        "/playbooks/{pk}/",
        "/playbooks/{pk}/history/",
        "/playbooks/{pk}/diff/",
        "/playbooks/history/",
    ],
)
def test_user_reads_playbooks(as_user, url):
    playbook = PlaybookFactory()
    services.playbook_set_active(playbook=playbook, user=None, active=False)
    services.playbook_set_active(playbook=playbook, user=None, active=True)
    assert as_user.get(url.format(pk=playbook.pk)).status_code == 200


def test_users_see_no_write_buttons(as_user):
    playbook = PlaybookFactory()
    body = as_user.get(f"/playbooks/{playbook.pk}/").content
    assert b"Edit" not in body and b"Delete" not in body and b"/jobs/new/?playbook=" in body


# --- query counts ----------------------------------------------------------------------


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def add_versions(playbook, n):
    PlaybookVersion.objects.bulk_create(
        PlaybookVersion(
            playbook_id=playbook.pk,
            playbook_name=playbook.name,
            action="updated",
            new_content=SAMPLE_PLAYBOOK,
            new_sha256="x",
        )
        for _ in range(n)
    )


def test_list_and_history_query_counts_do_not_grow(as_admin):
    playbooks = PlaybookFactory.create_batch(5)
    for p in playbooks:
        add_versions(p, 5)
        JobFactory(playbook=p)
    urls = [
        "/playbooks/",
        f"/playbooks/{playbooks[0].pk}/history/",
        "/playbooks/history/",
        f"/playbooks/{playbooks[0].pk}/diff/",
    ]
    small = [count_queries(as_admin, u) for u in urls]
    PlaybookFactory.create_batch(30)
    for p in playbooks:
        add_versions(p, 95)
    large = [count_queries(as_admin, u) for u in urls]
    assert small == large
