"""Automation templates build every link with {% url %} or get_absolute_url, never a path
spelled by hand: a route can then move without a page linking to the old place."""

import re
from pathlib import Path

from django.conf import settings

LITERAL_PATH = re.compile(r'\b(href|action|src|hx-get|hx-post)="/')


def test_automation_templates_spell_no_path_by_hand():
    folder = Path(settings.BASE_DIR) / "templates" / "automation"
    found = [
        f"{path.relative_to(folder)}:{number}: {line.strip()}"
        for path in sorted(folder.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL_PATH.search(line)
    ]
    assert not found, found
