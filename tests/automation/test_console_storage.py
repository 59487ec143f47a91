"""Console storage: lines cut into rows of bounded size, batches bounded by bytes, retries that
never store a line twice, and pages that show a long line cut while the download joins it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.models import Job, JobLog
from automation.runner.callback import BATCH_BYTES, CONSOLE_ROW_CHARS, LogWriter
from automation.selectors.jobs import LINE_SHOWN_CHARS, job_console, job_console_text
from automation.services.jobs import job_launch
from tests.automation.conftest import tasks_yaml
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

LONG = "".join(f"{n:07d} " for n in range(25_000))  # 200,000 characters, every cut visible


def rows(job):
    return list(
        JobLog.objects.filter(job=job)
        .order_by("line_number")
        .values_list("line_number", "content", "log_level", "continuation")
    )


def feed_in_pieces(writer, text, size, event="runner_on_ok"):
    for start in range(0, len(text), size):
        writer.feed(text[start : start + size], event)
    writer.end_event(event)


@pytest.fixture
def job(db):
    return JobFactory(status=Job.Status.RUNNING)


def test_a_long_line_is_stored_in_rows_and_downloaded_whole(job):
    writer = LogWriter(job)
    feed_in_pieces(writer, f"TASK [long]\r\n{LONG}\r\nok: [web1]\r\n", 2000)
    writer.flush()
    stored = rows(job)
    assert [len(content) for _, content, _, _ in stored] == [
        11,
        CONSOLE_ROW_CHARS,
        CONSOLE_ROW_CHARS,
        CONSOLE_ROW_CHARS,
        len(LONG) - 3 * CONSOLE_ROW_CHARS,
        10,
    ]
    assert [continuation for *_, continuation in stored] == [False, False, True, True, True, False]
    assert [number for number, *_ in stored] == [1, 2, 3, 4, 5, 6]
    assert "".join(job_console_text(job=job)) == f"TASK [long]\n{LONG}\nok: [web1]\n"


def test_output_cut_anywhere_gives_the_same_rows(job):
    text = '\r\nTASK [a] ***\r\nok: [h] => {\r\n    "msg": "x"\r\n}\r\n' + LONG[:70_000] + "\r\n"
    whole = LogWriter(job)
    whole.write(text, "runner_on_ok")
    whole.flush()
    expected = [row[1:] for row in rows(job)]
    for size in (1, 2, 7, 2000):
        other = JobFactory(status=Job.Status.RUNNING)
        writer = LogWriter(other)
        feed_in_pieces(writer, text, size)
        writer.flush()
        assert [row[1:] for row in rows(other)] == expected, size


def test_blank_lines_end_an_event_only_when_more_follows(job):
    writer = LogWriter(job)
    writer.write("\r\nTASK [x] ***\r\n\r\n", "playbook_on_task_start")
    writer.write("ok: [h]\r\n", "runner_on_ok")
    writer.feed("verbose\r\n\r\n", "verbose")
    writer.end_event("verbose")
    writer.flush()
    assert [content for _, content, _, _ in rows(job)] == ["", "TASK [x] ***", "ok: [h]", "verbose"]


def test_a_long_error_line_keeps_its_level_and_is_the_first_error(job):
    writer = LogWriter(job)
    writer.write("ok: [h]\r\nfatal: [h]: FAILED! => " + LONG + "\r\n", "runner_on_ok")
    writer.flush()
    levels = {level for _, _, level, continuation in rows(job) if continuation}
    assert levels == {"ERROR"}
    job.refresh_from_db()
    assert job.first_error_line == 2


def test_insert_batches_are_bounded_by_bytes(job):
    writer = LogWriter(job)
    line = "é" * 30_000  # 60,000 bytes in UTF-8
    with CaptureQueriesContext(connection) as queries:
        writer.write("\r\n".join([line] * 20), "runner_on_ok")
        writer.flush()
    inserts = [q for q in queries if "INSERT INTO" in q["sql"] and "job_logs" in q["sql"]]
    assert len(inserts) >= 20 * 60_000 // BATCH_BYTES + 1
    assert JobLog.objects.filter(job=job).count() == 20


def test_a_retry_after_an_unknown_outcome_stores_each_line_once(job):
    writer = LogWriter(job)
    writer.write("\r\n".join(f"line {n}" for n in range(1, 11)), "runner_on_ok")
    # The first five went in before the connection broke: the writer could not know.
    JobLog.objects.bulk_create(
        JobLog(job=job, line_number=n, content=f"line {n}") for n in range(1, 6)
    )
    writer.uncertain = True
    writer.flush()
    assert [content for _, content, _, _ in rows(job)] == [f"line {n}" for n in range(1, 11)]
    assert not writer.uncertain and not writer.buffer


def test_the_page_shows_a_long_line_cut_and_polls_skip_its_rows(as_user, job):
    writer = LogWriter(job)
    writer.write(f"before\r\n{LONG}\r\nafter", "runner_on_ok")
    writer.flush()
    response = as_user.get(job.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "line cut" in body and LONG[:LINE_SHOWN_CHARS] in body
    assert LONG[: LINE_SHOWN_CHARS + 8] not in body and len(body) < 40_000
    window = job_console(job=job)
    assert [(line.line_number, line.cut) for line in window] == [(1, False), (2, True), (6, False)]
    # A poll after the long line's first row sends the next line, never its continuations.
    polled = as_user.get(f"/jobs/{job.job_id}/log/?after=2").content.decode()
    assert 'id="L6"' in polled and "L3" not in polled and "line cut" not in polled
    earlier = job_console(job=job, before=6)
    assert [line.line_number for line in earlier] == [1, 2]


def test_the_download_streams_a_long_line_joined(as_user, job):
    writer = LogWriter(job)
    writer.write("\r\n".join(["a", "\x1b[31m" + LONG + "\x1b[0m", "b"]), "runner_on_ok")
    writer.flush()
    response = as_user.get(f"/jobs/{job.job_id}/download/")
    assert b"".join(response.streaming_content).decode() == f"a\n{LONG}\nb\n"


@pytest.mark.slow
def test_a_line_over_the_packet_limit_ends_the_job_and_downloads_whole(
    inline_tasks, localhost, make_playbook, super_admin, as_super_admin
):
    """17 MiB in one line: over MariaDB's default max_allowed_packet (16 MiB)."""
    size = 17 * 1024 * 1024
    playbook = make_playbook(
        tasks_yaml(f"name: Huge\n      ansible.builtin.debug: {{msg: \"{{{{ 'x' * {size} }}}}\"}}")
    )
    with inline_tasks():
        job = job_launch(playbook=playbook, server=localhost, user=super_admin)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert JobLog.objects.filter(job=job, continuation=True).count() == size // CONSOLE_ROW_CHARS
    page = as_super_admin.get(job.get_absolute_url()).content.decode()
    assert "line cut" in page and len(page) < 100_000
    response = as_super_admin.get(f"/jobs/{job.job_id}/download/")
    text = b"".join(response.streaming_content).decode()
    assert f'"msg": "{"x" * size}"' in [line.strip() for line in text.splitlines()]
