"""Running a playbook, in the worker: ``prepare`` writes the job's directory, ``execute`` runs
ansible-runner and records the result, ``callback`` handles its events (console lines, cancel)
and ``sandbox`` confines every ansible-playbook.

Only ``sandbox`` is imported by the web process too (the save-time syntax check, the system
check); ``execute`` loads ansible-runner and is imported by automation.tasks alone. Keep this
file free of imports, so importing the sandbox loads nothing else.
"""
