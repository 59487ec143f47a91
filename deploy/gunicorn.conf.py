"""gunicorn settings for infra_automation, read from the environment (same names in
.env.example): `gunicorn -c deploy/gunicorn.conf.py infra_automation.wsgi`."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Requests are short (pages, 1 s console polls); sync workers, about two per core.
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", 1))
# A request taking longer than this is killed and logged; downloads stream in chunks well within.
timeout = int(os.environ.get("WEB_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", 2000))
max_requests_jitter = 200
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
# The app reads the client address from TRUSTED_PROXY_IP_HEADER itself (docs); gunicorn
# only needs to trust the proxy's X-Forwarded-Proto for `request.is_secure()`.
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
