"""Running a playbook: the worker's code (``execute``) and the sandbox every ansible-playbook
runs in (``sandbox``, also used by the save-time syntax check)."""
