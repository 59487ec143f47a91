"""Automation's models, one module per sub-domain: ``playbooks`` (Playbook, PlaybookVersion) and
``jobs`` (Job, JobLog). Imported from here (``automation.models``), as Django and every caller
expect."""

from automation.models.jobs import InvalidTransition, Job, JobLog
from automation.models.playbooks import Playbook, PlaybookVersion

__all__ = ["InvalidTransition", "Job", "JobLog", "Playbook", "PlaybookVersion"]
