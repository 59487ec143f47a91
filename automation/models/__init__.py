"""Playbooks, the jobs that run them, and the console lines the jobs print."""

from automation.models.jobs import InvalidTransition, Job, JobLog, Playbook

__all__ = ["InvalidTransition", "Job", "JobLog", "Playbook"]
