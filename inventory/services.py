"""Writes on the inventory: servers created, edited, (de)activated and deleted, the connection
test and polling the fleet. The views call these; the audit rows come from the receivers
(``Server`` opts into the trail).

A local-connection server runs playbooks on the controller itself: only a super_admin creates,
changes or deletes one (the form offers the choice only to them; this is the check)."""

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import CharField, ProtectedError

from auditing.models import AuditLog
from auditing.services import audit_record
from inventory import crypto, metrics, ssh
from inventory.models import Credential, Server, ServerGroup
from inventory.selectors import group_descendant_ids
from inventory.variables import check_reserved_variables, validate_variables

SERVER_FIELDS = (
    "hostname",
    "ip_address",
    "connection",
    "ssh_user",
    "ssh_port",
    "credential",
    "ssh_key_path",
    "become_credential",
    "os_type",
    "os_version",
    "is_active",
    "variables",
)
IN_JOB_HISTORY = (
    "Server {} has jobs in its history and cannot be deleted. "
    "Deactivate it instead: it stays in the job history but is no longer used."
)


def _check_may_change(actor: Any, server: Server | None, connection: str | None = None) -> None:
    if not actor.is_admin:
        raise PermissionDenied
    local = (server is not None and server.is_local) or connection == Server.Connection.LOCAL
    if local and not actor.is_super_admin:
        raise PermissionDenied("Only a super admin can create or change a local server.")


def _save(server: Server, fields: dict[str, Any]) -> Server:
    unknown = set(fields) - set(SERVER_FIELDS)
    if unknown:
        raise TypeError(f"not server fields: {sorted(unknown)}")
    if "variables" in fields:
        fields["variables"] = validate_variables(fields["variables"])
    for name, value in fields.items():
        setattr(server, name, value)
    # Field rules only: the form has checked uniqueness, and the database enforces it.
    server.full_clean(validate_unique=False, validate_constraints=False)
    server.save()
    return server


def server_create(*, actor: Any, **fields: Any) -> Server:
    """Create a server from validated ``fields`` (names in SERVER_FIELDS)."""
    _check_may_change(actor, None, fields.get("connection"))
    check_reserved_variables(fields.get("variables") or {}, user=actor)
    return _save(Server(), fields)


def server_update(*, actor: Any, server: Server, **fields: Any) -> Server:
    """Change ``server``'s ``fields`` (names in SERVER_FIELDS) and save it."""
    _check_may_change(actor, server, fields.get("connection"))
    check_reserved_variables(fields.get("variables") or {}, user=actor)
    return _save(server, fields)


def server_toggle_active(*, actor: Any, server: Server) -> Server:
    """Deactivate an active server (it stays in job history but is no longer polled or
    offered), or activate it again."""
    _check_may_change(actor, server)
    server.is_active = not server.is_active
    server.save(update_fields=["is_active", "updated_at"])
    return server


def server_delete(*, actor: Any, server: Server) -> None:
    """Delete ``server`` and its metrics; a server jobs ran on is refused (ValidationError):
    deactivating it keeps the history."""
    _check_may_change(actor, server)
    try:
        server.delete()
    except ProtectedError:
        raise ValidationError(IN_JOB_HISTORY.format(server.hostname)) from None


def server_forget_host_key(*, actor: Any, server: Server) -> int:
    """Forget ``server``'s recorded SSH host key (a reinstalled server): its next connection
    trusts the key it presents. Audited; returns the number of known_hosts lines removed."""
    _check_may_change(actor, server)
    fingerprints = ssh.known_host_fingerprints(server)
    removed = ssh.known_hosts_forget(server)
    audit_record(
        AuditLog.Action.UPDATE,
        server,
        {"forgotten": "SSH host identity", "fingerprints": [f"{t} {f}" for t, f in fingerprints]},
    )
    return removed


def _max_length(name: str) -> int | None:
    return cast(CharField, Server._meta.get_field(name)).max_length


def server_test_connection(*, server: Server) -> tuple[bool, str]:
    """Connect, run ``uname -sr`` and fill os_type/os_version when they are empty.

    Returns (ok, message). The os fields are saved with save() so the change is audited.
    """
    try:
        output = ssh.run_on(server, "uname -sr").strip()
    except ssh.SshError as exc:
        Server.objects.filter(pk=server.pk).update(last_error=str(exc)[:2000])
        return False, f"Connection failed: {exc}"
    os_type, _, os_version = output.partition(" ")
    changed = []
    if not server.os_type and os_type:
        server.os_type = os_type[: _max_length("os_type")]
        changed.append("os_type")
    if not server.os_version and os_version:
        server.os_version = os_version[: _max_length("os_version")]
        changed.append("os_version")
    if changed:
        server.save(update_fields=[*changed, "updated_at"])
    Server.objects.filter(pk=server.pk).update(last_error="")
    return True, f"Connected: {output}"


def servers_poll(*, servers: Iterable[Server], max_workers: int = 16) -> dict:
    """Sample many servers at once and store each result as soon as it arrives.

    The network work runs in a bounded thread pool; the database writes happen here, in the
    calling thread, so worker threads never hold database connections and a dead host only
    costs its own connect timeout. Returns {server: Sample}.
    """
    servers = list(servers)
    results: dict[Server, metrics.Sample] = {}
    if not servers:
        return results
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(servers)))) as pool:
        futures = {pool.submit(metrics.sample, server): server for server in servers}
        for future in as_completed(futures):
            server = futures[future]
            result = future.result()
            metrics.store(server, result)
            results[server] = result
    return results


# --- credentials ----------------------------------------------------------------------------

CREDENTIAL_FIELDS = (
    "name",
    "kind",
    "description",
    "username",
    "become_method",
    "become_user",
    "vault_id",
)
SECRET_INPUTS = ("private_key", "passphrase", "password", "token")
ACTIVE_JOB_STATUSES = ("pending", "running")


def _check_admin(actor: Any) -> None:
    if not actor.is_admin:
        raise PermissionDenied


def credential_save(
    *,
    actor: Any,
    credential: Credential | None = None,
    fields: dict[str, Any],
    secrets: dict[str, str],
    generate_key: bool = False,
) -> Credential:
    """Create (``credential`` None) or update a credential. ``secrets`` holds the secret inputs
    typed in; an empty one keeps the stored value (secrets are write-only: a form never shows
    them, so an edit that leaves them blank changes nothing). ``generate_key`` makes a new
    ed25519 key pair for an SSH key credential. An SSH private key is opened (with its
    passphrase) and checked before anything is saved; the stored copy is the key as given.

    Raises ValidationError with what to fix, crypto.CredentialsKeyError without a usable key."""
    _check_admin(actor)
    unknown = set(fields) - set(CREDENTIAL_FIELDS)
    if unknown:
        raise TypeError(f"not credential fields: {sorted(unknown)}")
    creating = credential is None
    credential = credential or Credential(created_by=actor if getattr(actor, "pk", None) else None)
    for name, value in fields.items():
        setattr(credential, name, value)
    kind = Credential.Kind(credential.kind)
    allowed = Credential.SECRET_FIELDS[kind]
    stored = {} if creating or not credential.secret else credential.secrets()
    given = {k: v for k, v in secrets.items() if k in allowed and v}
    if generate_key:
        if "private_key" not in allowed:
            raise ValidationError("Only SSH key and Git credentials hold a key pair.")
        given["private_key"], _ = crypto.generate_ed25519()
        given["passphrase"] = ""
        stored.pop("passphrase", None)
    merged = {**stored, **given}
    if "private_key" in given and "passphrase" not in given:
        merged.pop("passphrase", None)  # a new key: an old passphrase does not belong to it
    if "private_key" in merged:
        key = crypto.load_private_key(merged["private_key"], merged.get("passphrase", ""))
        credential.fingerprint = crypto.fingerprint(key)
        credential.public_key = crypto.public_key_line(key, f"infra_automation:{credential.name}")
    else:
        credential.fingerprint = credential.public_key = ""
    missing = _missing_secret(kind, merged)
    if missing:
        raise ValidationError(missing)
    if given or generate_key or creating:
        credential.set_secrets(merged)
    credential.full_clean(validate_unique=False, validate_constraints=False)
    credential.save()
    return credential


def _missing_secret(kind: str, values: dict[str, str]) -> str:
    if kind == Credential.Kind.SSH_KEY and not values.get("private_key"):
        return "Paste or upload the private key, or generate a new key pair."
    if kind == Credential.Kind.GIT and not (values.get("token") or values.get("private_key")):
        return "Enter an access token or an SSH private key (or generate a key pair)."
    password_kinds = (Credential.Kind.SSH_PASSWORD, Credential.Kind.BECOME, Credential.Kind.VAULT)
    if kind in password_kinds and not values.get("password"):
        return "Enter the password."
    return ""


def credential_users(credential: Credential) -> list[str]:
    """What uses ``credential`` now: servers, projects, pending or running jobs."""
    uses = [f"server {s}" for s in credential.servers.all()]
    uses += [f"server {s} (become)" for s in credential.become_servers.all()]
    uses += [f"project {p}" for p in credential.projects.all()]
    jobs = credential.vault_jobs.filter(status__in=ACTIVE_JOB_STATUSES)
    uses += [f"job {j.job_id} ({j.status})" for j in jobs]
    return uses


def credential_delete(*, actor: Any, credential: Credential) -> None:
    """Delete ``credential``; refused (ValidationError) while a server, a project or a pending
    or running job uses it."""
    _check_admin(actor)
    uses = credential_users(credential)
    if uses:
        shown = ", ".join(uses[:5]) + (f" and {len(uses) - 5} more" if len(uses) > 5 else "")
        raise ValidationError(
            f"Credential {credential.name} is in use ({shown}) and cannot be deleted. "
            "Point them at another credential first."
        )
    try:
        credential.delete()
    except ProtectedError:
        raise ValidationError(
            f"Credential {credential.name} is in use and cannot be deleted."
        ) from None


def credentials_rotate() -> int:
    """Re-encrypt every stored secret with the newest CREDENTIALS_KEY; returns the number of
    rows. One transaction: a failure leaves every row as it was. Written with update(): the
    values did not change, so no "secret changed" audit row per credential."""
    count = 0
    with transaction.atomic():
        for pk, token in (
            Credential.objects.select_for_update().exclude(secret="").values_list("pk", "secret")
        ):
            Credential.objects.filter(pk=pk).update(secret=crypto.rotate(token))
            count += 1
    return count
# --- groups ---------------------------------------------------------------------------------

GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")
# Names Ansible gives groups of its own: a group of ours by that name would merge with them.
RESERVED_GROUP_NAMES = {"all", "ungrouped"}


def validate_group_name(name: str) -> str:
    """A name Ansible accepts as a group name without a warning (letters, digits, '_', '-'
    is tolerated but warned about by Ansible: we allow it, as ``hosts: web-servers`` works)."""
    if not GROUP_NAME.match(name or ""):
        raise ValidationError(
            "A group name is letters, digits, '_' and '-', starting with a letter or '_'."
        )
    if name.lower() in RESERVED_GROUP_NAMES:
        raise ValidationError(f"'{name}' is a group Ansible makes itself; choose another name.")
    return name


def _check_no_cycle(group: ServerGroup, children: Iterable[ServerGroup]) -> None:
    children = list(children)
    if group.pk is None:
        return  # a new group is nobody's child yet
    for child in children:
        if group.pk in group_descendant_ids([child.pk]):
            path = "itself" if child.pk == group.pk else f"{child.name}, which contains it"
            raise ValidationError(
                f"Group {group.name} cannot contain {path}: groups would nest in a circle."
            )


def _group_save(
    group: ServerGroup,
    *,
    actor: Any,
    name: str,
    description: str,
    variables: dict[str, Any],
    servers: Iterable[Server],
    children: Iterable[ServerGroup],
) -> ServerGroup:
    if not actor.is_admin:
        raise PermissionDenied
    validate_group_name(name)
    variables = validate_variables(variables)
    check_reserved_variables(variables, user=actor)
    servers, children = list(servers), list(children)
    with transaction.atomic():
        # Serialise nesting changes: two edits adding A->B and B->A at once would each pass.
        list(ServerGroup.objects.select_for_update().filter(pk__in=[c.pk for c in children]))
        _check_no_cycle(group, children)
        before = (
            {
                "servers": sorted(group.servers.values_list("hostname", flat=True)),
                "children": sorted(group.children.values_list("name", flat=True)),
            }
            if group.pk
            else {"servers": [], "children": []}
        )
        group.name, group.description, group.variables = name, description, variables
        group.full_clean(validate_unique=False, validate_constraints=False)
        group.save()
        group.servers.set(servers)
        group.children.set(children)
        after = {
            "servers": sorted(s.hostname for s in servers),
            "children": sorted(c.name for c in children),
        }
        # Membership is many-to-many: the model receivers do not see it; record it here.
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if changes:
            audit_record(AuditLog.Action.UPDATE, group, {"changes": changes}, user=actor)
    return group


def group_create(*, actor: Any, **fields: Any) -> ServerGroup:
    """Create a group with its variables, member servers and child groups."""
    return _group_save(ServerGroup(), actor=actor, **fields)


def group_update(*, actor: Any, group: ServerGroup, **fields: Any) -> ServerGroup:
    """Change a group; a change that would nest groups in a circle is refused."""
    return _group_save(group, actor=actor, **fields)


def group_delete(*, actor: Any, group: ServerGroup) -> None:
    """Delete a group (its servers stay; past jobs keep their hosts in job_hosts)."""
    if not actor.is_admin:
        raise PermissionDenied
    group.delete()
