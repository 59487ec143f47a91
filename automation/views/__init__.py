"""Automation pages: ``playbooks`` and ``jobs``."""
