"""Every response carries a strict Content-Security-Policy, and no template needs what it
forbids (inline scripts, inline event handlers, javascript: URLs)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/login/", "/", "/jobs/", "/playbooks/", "/servers/", "/admin/", "/no-such-page/"]
)
def test_every_response_has_the_policy(as_super_admin, url):
    policy = as_super_admin.get(url)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'self'"
    assert directives["object-src"] == "'none'"


@pytest.mark.django_db
def test_an_anonymous_redirect_and_a_bad_request_have_it_too(client):
    assert "default-src 'self'" in client.get("/jobs/")["Content-Security-Policy"]
    assert (
        "default-src 'self'"
        in client.get("/login/", HTTP_HOST="evil.example")["Content-Security-Policy"]
    )


def test_templates_have_no_inline_scripts_or_handlers():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if inline_script.search(text) or handler.search(text) or "javascript:" in text:
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []
