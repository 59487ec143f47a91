"""Automation's models, one module per sub-domain: ``playbooks`` (Playbook, PlaybookVersion),
``projects`` (Project, ProjectSnapshot, ProjectSync, ProjectSyncLog), ``jobs`` (Job, JobLog)
and ``workers`` (WorkerHeartbeat). Imported from here (``automation.models``), as Django and
every caller expect."""

from automation.models.jobs import InvalidTransition, Job, JobHost, JobLog
from automation.models.playbooks import Playbook, PlaybookVersion
from automation.models.projects import Project, ProjectSnapshot, ProjectSync, ProjectSyncLog
from automation.models.workers import WorkerHeartbeat

__all__ = [
    "InvalidTransition",
    "Job",
    "JobHost",
    "JobLog",
    "Playbook",
    "PlaybookVersion",
    "Project",
    "ProjectSnapshot",
    "ProjectSync",
    "ProjectSyncLog",
    "WorkerHeartbeat",
]
