"""Automation writes: ``playbooks`` and ``jobs``."""
