"""Terminal escape sequences in console lines: colours survive on the page, everything else
(hyperlinks, titles, cursor movement, control characters) is removed on the page and in the
download, including from rows stored before the rule existed."""

import pytest

from automation.console import console_text
from tests.factories import JobFactory, JobLogFactory

pytestmark = pytest.mark.django_db

ESC = "\x1b"
OSC8_LINK = f"{ESC}]8;;http://evil.example/{ESC}\\click here{ESC}]8;;{ESC}\\ to continue"
LINES = [
    OSC8_LINK,
    f"{ESC}]8;;http://evil.example/\x07bel link{ESC}]8;;\x07",
    f"{ESC}]0;fake title\x07after title",
    f"{ESC}[31mred{ESC}[0m plain",
    f"{ESC}[2J{ESC}[1;1Hcursor{ESC}[?25l moved",
    f"safe\rREWRITTEN, bell\x07, back\x08space, tab\tkept, c1\x9b31m, lone{ESC}",
]


@pytest.fixture
def job(db):
    job = JobFactory(status="failed", error_message=f"failed: {OSC8_LINK}")
    for number, content in enumerate(LINES, 1):
        JobLogFactory(job=job, line_number=number, content=content)
    return job


@pytest.mark.parametrize(
    "raw, page, download",
    [
        (OSC8_LINK, "click here to continue", "click here to continue"),
        (f"{ESC}[1;32mok{ESC}[0m", f"{ESC}[1;32mok{ESC}[0m", "ok"),
        (f"{ESC}[3Aup{ESC}[K", "up", "up"),
        ("a\tb\x00c\x7fd\x85e", "a\tbcde", "a\tbcde"),
    ],
)
def test_console_text_keeps_colours_only(raw, page, download):
    assert console_text(raw) == page
    assert console_text(raw, colours=False) == download


def test_job_page_never_turns_an_osc8_link_into_a_link(as_user, job):
    body = as_user.get(f"/jobs/{job.job_id}/").content.decode()
    assert "evil.example" not in body and '<a href="http://evil' not in body
    assert ESC not in body and "\x07" not in body and "\x9b" not in body
    assert "click here to continue" in body and "after title" in body
    assert '<span style="color: #aa0000">red</span> plain' in body  # colours still shown
    polled = as_user.get(f"/jobs/{job.job_id}/log/?after=0").content.decode()
    assert "evil.example" not in polled and ESC not in polled and "click here" in polled


def test_download_has_no_escape_bytes_but_keeps_the_text(as_user, job):
    response = as_user.get(f"/jobs/{job.job_id}/download/")
    text = b"".join(response.streaming_content).decode()
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "evil.example" not in text
    assert text.splitlines() == [
        "click here to continue",
        "bel link",
        "after title",
        "red plain",
        "cursor moved",
        "safeREWRITTEN, bell, backspace, tab\tkept, c131m, lone",
    ]
