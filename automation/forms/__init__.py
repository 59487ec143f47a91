"""Automation forms: ``playbooks`` and ``jobs``."""
