"""Playbooks near the size limit through the text form, which percent-encodes them: what the
limit promises is accepted, and a body past what the server reads is a clear 400 page."""

from urllib.parse import urlencode

import pytest

from automation.models import Playbook

pytestmark = pytest.mark.django_db

HEADER = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: 説明\n"


def cjk_playbook(size):
    """A valid playbook of about ``size`` bytes, almost all three-byte CJK characters."""
    lines, used = [HEADER, "      ansible.builtin.debug:\n        msg: |\n"], len(HEADER.encode())
    while used < size - 1000:
        line = "          " + "漢字" * 50 + "\n"
        lines.append(line)
        used += len(line.encode())
    return "".join(lines)


def post_form(client, data):
    """As a browser posts a form: application/x-www-form-urlencoded, newlines as CR LF."""
    data = {key: value.replace("\n", "\r\n") for key, value in data.items()}
    return client.post(
        "/playbooks/new/", urlencode(data), content_type="application/x-www-form-urlencoded"
    )


def test_a_972_kb_cjk_playbook_is_accepted_through_the_text_form(as_admin, settings):
    content = cjk_playbook(972 * 1024)
    encoded = urlencode({"content": content.replace("\n", "\r\n")})
    assert len(content.encode()) < settings.PLAYBOOK_MAX_BYTES < 2_621_440 < len(encoded)
    response = post_form(as_admin, {"name": "CJK", "description": "", "content": content})
    assert response.status_code == 302, response.content[:500]
    assert Playbook.objects.get().read_content() == content


def test_a_playbook_over_the_limit_is_a_form_message_not_a_400(as_admin, settings):
    content = cjk_playbook(settings.PLAYBOOK_MAX_BYTES + 200_000)
    response = post_form(as_admin, {"name": "Big", "description": "", "content": content})
    assert response.status_code == 200
    assert "the limit is 1,048,576 bytes" in " ".join(response.context["form"].errors["content"])
    assert not Playbook.objects.exists()


def test_a_body_past_the_request_limit_is_a_clear_400_page(as_admin, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post_form(as_admin, {"name": "Big", "description": "", "content": "x" * 20_000})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="too-big"' in body and "larger than this server accepts" in body
    assert "upload as a file" in body and not Playbook.objects.exists()


def test_the_request_limit_follows_the_playbook_limit(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= 6 * settings.PLAYBOOK_MAX_BYTES
