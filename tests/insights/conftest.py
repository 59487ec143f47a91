"""The job-run fixtures, for the tests that run jobs through a real worker."""

from tests.automation.conftest import localhost, make_playbook  # noqa: F401
