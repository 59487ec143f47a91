"""System checks for running playbooks: the sandbox must be able to start."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from automation.runner import sandbox


@register()
def sandbox_ready(app_configs, **kwargs):
    """automation.E001: the sandbox cannot start (jobs would fail); E002: a bad setting;
    W001: the sandbox is off on purpose (unsafe outside development)."""
    if settings.RUNNER_SANDBOX not in ("bwrap", "off"):
        return [
            Error(
                f"RUNNER_SANDBOX={settings.RUNNER_SANDBOX!r} is not a known value.",
                hint="Use 'bwrap' (the default) or, for development only, 'off'.",
                id="automation.E002",
            )
        ]
    if not sandbox.enabled():
        return [
            Warning(
                "RUNNER_SANDBOX=off: playbooks run unconfined, with the worker's rights and "
                "environment; anyone who may launch a job can run code on the controller.",
                hint="Development only. Remove RUNNER_SANDBOX (default 'bwrap') elsewhere.",
                id="automation.W001",
            )
        ]
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as exc:
        return [
            Error(
                f"The playbook sandbox cannot start: {exc}",
                hint="Jobs fail at once until it can. See README: Sandbox.",
                id="automation.E001",
            )
        ]
    return []
