"""Plumbing every app shares and no app owns: HTMX answers, keyset pagination, the filter-form
base, role checks, SQL helpers, formatting and template tags. No models, and no import of any
project app: everything here works on what Django and the caller hand it."""
