"""Settings for infra_automation, read from the environment (django-environ).

With no configuration at all the app boots on an embedded SQLite database under ``var/`` with
django-q2's ORM broker, so a first run needs nothing but Python. Production sets ``DEBUG=False``,
``SECRET_KEY`` and usually ``DATABASE_URL=mysql://...``; ``.env.example`` lists every variable.
"""

import ipaddress
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file (written by `make run`) is read when present; real environment wins.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=False.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 - DEBUG only

# Fernet keys that encrypt stored credentials (inventory/crypto.py), newest first, comma
# separated: older keys still decrypt until `manage.py rotate_credentials` re-encrypted every row.
# Separate from SECRET_KEY, and never in a backup archive. Production must set it (system check
# inventory.E001); in DEBUG only, a key derived from SECRET_KEY stands in (`make run` writes a
# real one into .env).
CREDENTIALS_KEY = env.list("CREDENTIALS_KEY", default=[])
CREDENTIALS_KEY_IS_DEV_DEFAULT = not CREDENTIALS_KEY and DEBUG

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Where the app keeps its own files: the SQLite database, playbooks, SSH keys, known_hosts.
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
PLAYBOOKS_DIR = Path(env.str("PLAYBOOKS_DIR", default=str(DATA_DIR / "playbooks")))
# Project caches, uploaded archives and snapshots (automation.models.projects).
PROJECTS_DIR = Path(env.str("PROJECTS_DIR", default=str(DATA_DIR / "projects")))
SSH_KEYS_DIR = Path(env.str("SSH_KEYS_DIR", default=str(DATA_DIR / "ssh_keys")))
SSH_KNOWN_HOSTS = Path(env.str("SSH_KNOWN_HOSTS", default=str(DATA_DIR / "known_hosts")))
# Workers refresh their heartbeat row this often; a running job whose worker has been silent
# for WORKER_LOST_SECONDS is failed by the reaper. A stopping worker gives its running jobs
# WORKER_STOP_GRACE seconds to finish before it cancels them (keep it well under the
# supervisor's stop timeout: systemd's default is 90 s).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=5)
WORKER_LOST_SECONDS = env.float("WORKER_LOST_SECONDS", default=30)
WORKER_STOP_GRACE = env.float("WORKER_STOP_GRACE", default=30)
# /healthz: a worker must have reported within this many seconds; DATA_DIR needs this much
# free space (MB).
WORKER_HEALTHY_SECONDS = env.float("WORKER_HEALTHY_SECONDS", default=60)
HEALTH_MIN_FREE_MB = env.int("HEALTH_MIN_FREE_MB", default=500)
# Seconds a playbook run may take before it is stopped and failed.
JOB_TIMEOUT = env.int("JOB_TIMEOUT", default=3600)
# Seconds a running job waits for the database to come back (console lines are held meanwhile)
# before its playbook is stopped; the job is then failed as soon as the database answers.
JOB_DB_RETRY_SECONDS = env.float("JOB_DB_RETRY_SECONDS", default=60.0)
# Every ansible-playbook runs in a bubblewrap sandbox (automation/runner/sandbox.py). "off" runs it
# unconfined: development only, it lets anyone who may launch a job run code as the worker.
RUNNER_SANDBOX = env.str("RUNNER_SANDBOX", default="bwrap").strip().lower()
# The unprivileged OS account ansible-playbook runs as when the worker is root.
RUNNER_USER = env.str("RUNNER_USER", default="infra-runner")
# More paths the sandbox hides (comma-separated), e.g. an EnvironmentFile outside the checkout.
RUNNER_SANDBOX_HIDE = env.list("RUNNER_SANDBOX_HIDE", default=[])
PLAYBOOK_MAX_BYTES = env.int("PLAYBOOK_MAX_BYTES", default=1024 * 1024)
EXTRA_VARS_MAX_BYTES = env.int("EXTRA_VARS_MAX_BYTES", default=64 * 1024)
# Projects (automation/runner/sources.py): a snapshot (files of one revision, git or an uploaded
# archive) may unpack to at most PROJECT_MAX_FILES entries and PROJECT_MAX_BYTES bytes, counted
# while writing; an uploaded archive may be at most PROJECT_ARCHIVE_MAX_BYTES.
PROJECT_MAX_BYTES = env.int("PROJECT_MAX_BYTES", default=512 * 1024 * 1024)
PROJECT_MAX_FILES = env.int("PROJECT_MAX_FILES", default=100_000)
PROJECT_ARCHIVE_MAX_BYTES = env.int("PROJECT_ARCHIVE_MAX_BYTES", default=100 * 1024 * 1024)
# Largest form body Django reads. A playbook edited in the text form arrives percent-encoded:
# each byte of non-ASCII text (CJK is 3 bytes a character) becomes 3 characters, and a newline
# 6 (the browser sends CR LF, "%0D%0A"). So any playbook the limit above accepts fits, with
# room for the name, description and token; a larger body gets the 400 page (templates/400.html).
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * PLAYBOOK_MAX_BYTES + 256 * 1024
# SSH timeouts (seconds) for the metrics collector and the connection test.
SSH_CONNECT_TIMEOUT = env.float("SSH_CONNECT_TIMEOUT", default=5.0)
SSH_COMMAND_TIMEOUT = env.float("SSH_COMMAND_TIMEOUT", default=10.0)
# Retention in days for the purge commands and their schedules; 0 keeps rows forever.
JOB_LOG_RETENTION_DAYS = env.int("JOB_LOG_RETENTION_DAYS", default=90)
# Audit rows: 3 years suggested; purge_audit_logs refuses under 1 year without --force.
AUDIT_LOG_RETENTION_DAYS = env.int("AUDIT_LOG_RETENTION_DAYS", default=1095)
SERVER_METRICS_RETENTION_DAYS = env.int("SERVER_METRICS_RETENTION_DAYS", default=30)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "core",
    "auditing",
    "accounts",
    "inventory",
    "automation",
    "insights",
    "maintenance",
]
# The large-data generator (manage.py generate_data): development and benchmarks only.
if env.bool("DEVTOOLS", default=DEBUG):
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the app server, compressed and with far-future caching for the
    # hashed names collectstatic writes (DEBUG=False); no separate web server needed for them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "infra_automation.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "auditing.middleware.AuditContextMiddleware",
]

ROOT_URLCONF = "infra_automation.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "infra_automation.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
            "isolation_level": "read committed",
        }
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at the same time: wait instead of failing.
    # IMMEDIATE: a transaction takes the write lock when it begins. A deferred one that reads
    # first (a job's transition reads the values it overwrites) and then writes gets "database
    # is locked" at once when another process writes meanwhile, whatever the timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # A file, not memory, so a real qcluster started by the tests can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    # bcrypt over a SHA-256 digest: no 72-byte limit (bcrypt 5 rejects longer passwords).
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: expire after SESSION_COOKIE_AGE seconds; with SESSION_SAVE_EVERY_REQUEST the age
# counts from the last request (an idle timeout) instead of from the login.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_SAVE_EVERY_REQUEST = env.bool("SESSION_SAVE_EVERY_REQUEST", default=False)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie; harmless
# Production defaults: HTTPS only, and browsers told to remember it (HSTS) for a year on this
# host and its subdomains. Behind a TLS proxy set SECURE_PROXY_SSL_HEADER too, or the redirect
# loops. HSTS preload is an opt-in commitment for the whole domain (security.W021 is silenced
# below until SECURE_HSTS_PRELOAD=True): see docs/audit-and-security.md.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every response by infra_automation.middleware.ContentSecurityPolicyMiddleware. Scripts
# only from this site's files (no inline code, no eval: htmx runs with allowEval=false). Styles
# also allow inline style attributes, which carry data: console colours (ansi2html writes
# style="color: ..." spans), usage bar widths and chart legend colours; a style attribute
# cannot run code. See docs/audit-and-security.md.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env.str("SECURE_PROXY_SSL_HEADER"), "https")
# Header holding the client address when behind a trusted reverse proxy, e.g.
# HTTP_X_FORWARDED_FOR. Empty: REMOTE_ADDR is used and forwarded headers are ignored.
TRUSTED_PROXY_IP_HEADER = env.str("TRUSTED_PROXY_IP_HEADER", default="")
# How many trusted proxies append to that header: the client is the N-th address from the
# right (what the outermost proxy saw). Entries further left were sent by the client itself.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)

# /metrics (Prometheus): scrapers from these addresses or networks, or presenting METRICS_TOKEN
# as a bearer token. Default: this machine only.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(value.strip(), strict=False) for value in METRICS_ALLOWED_IPS
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from exc

# Login throttling (accounts/throttle.py): this many failures for one username from one address
# within LOGIN_LOCKOUT_MINUTES refuse further attempts for LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production (DEBUG=False) serves what `collectstatic` wrote: names carry a content hash, so
    # WhiteNoise lets browsers cache them for a year; gzip and brotli copies are made once.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    }
}

# django-q2: ORM broker on the default database unless REDIS_URL is set.
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "infra_automation",
    "workers": env.int("Q_WORKERS", default=2),
    # A task may run as long as a job may, plus time to record its end.
    "timeout": JOB_TIMEOUT + 120,
    "retry": JOB_TIMEOUT + 300,
    # A job is never delivered twice on purpose; the claim in run_job guards the rest.
    "max_attempts": 1,
    "poll": 0.2,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# django_q's Task model has a conditional index MariaDB/MySQL ignore; harmless there.
SILENCED_SYSTEM_CHECKS = ["models.W037"]
if not SECURE_HSTS_PRELOAD:
    # Preloading is a decision for the domain's owner, not a default (see the HSTS note above).
    SILENCED_SYSTEM_CHECKS.append("security.W021")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # paramiko logs every successful authentication at INFO: noise in poll output.
        "paramiko": {"level": "WARNING"},
    },
}

os.makedirs(DATA_DIR, exist_ok=True)
os.makedirs(STATIC_ROOT, exist_ok=True)  # WhiteNoise expects it, even before collectstatic
