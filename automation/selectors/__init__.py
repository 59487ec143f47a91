"""Automation reads: ``playbooks`` and ``jobs``. Views and forms ask these for rows; they build
no query themselves."""
