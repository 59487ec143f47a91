#!/usr/bin/env bash
# The production pair for a trial on this machine: gunicorn (deploy/gunicorn.conf.py) serving
# the app with DEBUG=False and WhiteNoise, plus a job worker (`manage.py worker`). Used by `make serve`.
# Expects the venv (make venv) and a .env or environment with SECRET_KEY and CREDENTIALS_KEY
# (a .env written by an older `make run` lacks the latter: add one, see .env.example). Ctrl-C or SIGTERM
# stops both: the worker gets SIGTERM and time to end its jobs (see docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DEBUG=False
# A trial over plain http on loopback: behind TLS in production, drop these three (docs).
export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-False}"
export SESSION_COOKIE_SECURE="${SESSION_COOKIE_SECURE:-False}"
export CSRF_COOKIE_SECURE="${CSRF_COOKIE_SECURE:-False}"
export WEB_BIND="${WEB_BIND:-127.0.0.1:${PORT:-8000}}"

$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput --verbosity 0
if [ "${SERVE_SEED:-1}" = "1" ]; then
    $PY manage.py seed_demo
    $PY manage.py setup_schedules
fi

$PY manage.py worker &
worker=$!
.venv/bin/gunicorn -c deploy/gunicorn.conf.py infra_automation.wsgi &
web=$!
stop() {
    kill -TERM "$web" "$worker" 2>/dev/null || true
    wait "$web" "$worker" 2>/dev/null || true
}
trap stop INT TERM
echo "infra_automation (production mode): http://$WEB_BIND/"
# Either process ending brings the other down: a half-running pair is worse than none.
wait -n "$web" "$worker" || true
stop
