"""Writing audit rows: one function every caller uses, and the rules that keep secrets out.

The signal receivers (``auditing.signals``) call ``audit_record`` for model changes and logins;
code whose writes send no signal (``Job.transition`` is a conditional ``QuerySet.update``) calls
it explicitly, e.g. ``audit_record(AuditLog.Action.CANCEL, job)``. Who acted, from where and in
which request come from the audit context (``auditing.context``): the web middleware sets it per
request, workers and commands enter ``audit_context(user=..., source=...)``.
"""

import datetime
import decimal
import re
import uuid

from auditing.context import client_ip, current_actor
from auditing.models import AuditLog

MASK = "********"
# A key whose name looks like it holds a secret: its value is never stored, however deep.
# Shared by every place that shows or stores extra vars (audit rows, the job page).
# Substrings cover the usual spellings (password, passwd, passphrase, db_pwd, apikey, api_key,
# API-Key, auth, authorization, oauth_token, session_cookie, jwt, client_secret, x-signature);
# "pw" alone only as a word of its own (db_pw, pw), since it appears inside ordinary words.
# Over-masking a harmless key ("author") is the price of never storing a secret.
SECRET_KEY_RE = re.compile(
    r"pass|pwd|secret|token|key|credential|private|auth|cookie|session|bearer|jwt|signature"
    r"|salt|(?:^|[^a-z0-9])pw(?:[^a-z0-9]|$)",
    re.IGNORECASE,
)
# A value that is a secret whatever its key is called (a private key pasted into extra vars).
SECRET_VALUE_RE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# A password inside a URL, whatever its key: scheme://user:PASSWORD@host (the user may be
# empty, as in redis://:PASSWORD@host; the password runs to the last @ of the authority). The
# scheme is bounded so a long run of letters is not rescanned from every position.
URL_PASSWORD_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s/?#@:]*:)[^\s/?#]*@")


def mask_text(value):
    """``value`` with secrets in it masked: the whole text if it holds a private key, else the
    password part of any URL in it (``https://deploy:********@git.example.com/repo``)."""
    if SECRET_VALUE_RE.search(value):
        return MASK
    if "://" in value and "@" in value:
        return URL_PASSWORD_RE.sub(rf"\g<head>{MASK}@", value)
    return value


def mask_secrets(value):
    """A copy of ``value`` with secret-looking dict keys, private-key values and passwords in
    URLs masked.

    Walks nested dicts and lists; leaves everything else as it is."""
    if isinstance(value, dict):
        return {
            key: MASK if SECRET_KEY_RE.search(str(key)) else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def jsonable(value):
    """A field value as JSON can hold it (dates as ISO strings, UUIDs and decimals as text)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        # One instant, one text: a form's Tokyo time and the database's UTC compare equal.
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dict | list | tuple | str):
        return mask_secrets(value)
    return value


def resource_of(instance):
    """(resource_type, resource_id) for a model instance: as its model declares it
    (``auditing.mixins.AuditedMixin``), else its model name and pk."""
    if hasattr(instance, "audit_type"):
        return instance.audit_type(), instance.audit_id
    return instance._meta.model_name, "" if instance.pk is None else str(instance.pk)


def login_resource_id(username):
    """How a login attempt's username is written as resource_id (resource_type "login"):
    case-folded (MariaDB compares usernames case-insensitively) and cut to the column's length.
    The login throttle counts failures by this key."""
    return str(username).strip().casefold()[:64]


# Pass as ``user`` to write a row with no user even inside a context that has one.
NO_USER = object()


def audit_record(
    action,
    resource=None,
    details=None,
    user=None,
    *,
    resource_type="",
    resource_id="",
    request=None,
    mask=True,
):
    """Write one audit row and return it.

    ``resource`` is a model instance (its type and id are derived) or None with explicit
    ``resource_type``/``resource_id``. ``user`` defaults to the user of the audit context in
    force (None there means the system); ``NO_USER`` forces none. IP address, user agent and
    request id come from the context, or from ``request`` when one is given (the login signals
    pass theirs). ``details`` are stored with secret-looking keys masked; the model receivers,
    which mask field by field themselves, pass ``mask=False``.
    """
    actor = current_actor()
    if resource is not None:
        resource_type, resource_id = resource_of(resource)
    acting_user = actor.user if user is None else user
    if acting_user is NO_USER:
        acting_user = None
    ip_address, user_agent = actor.ip_address, actor.user_agent
    if request is not None:
        ip_address = client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    details = mask_secrets(details or {}) if mask else dict(details or {})
    if actor.source != "web":
        # Outside a request, say what did it: a worker, a command or the system itself.
        details = {**details, "source": actor.source}
    return AuditLog.objects.create(
        user_id=getattr(acting_user, "pk", None),
        # Written with the row and never changed: the trail keeps the name and role as they were.
        username=getattr(acting_user, "username", "") or "",
        user_role=getattr(acting_user, "role", "") or "",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details,
        ip_address=ip_address,
        user_agent=user_agent,
        request_id=actor.request_id,
    )
