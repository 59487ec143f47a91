"""A factory per model. Playbook factories write real files under PLAYBOOKS_DIR."""

import hashlib

import factory
from django.utils import timezone

from accounts.models import User
from auditing.models import AuditLog
from automation import storage
from automation.models import (
    Job,
    JobLog,
    Playbook,
    PlaybookVersion,
    Project,
    ProjectSnapshot,
    ProjectSync,
)
from inventory.crypto import encrypt
from inventory.models import Credential, Server, ServerGroup, ServerMetric

SAMPLE_PLAYBOOK = """\
- name: Sample
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: hello
"""


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    role = User.Role.USER
    password = factory.PostGenerationMethodCall("set_password", "pass-w0rd-42")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server

    hostname = factory.Sequence(lambda n: f"web{n:03d}.example.net")
    # Loopback addresses: a test that reaches for the network by mistake stays on this machine.
    ip_address = factory.Sequence(lambda n: f"127.10.{n // 250 % 250}.{n % 250 + 1}")
    os_type = "Linux"
    os_version = "6.1"
    ssh_port = 22
    ssh_user = "deploy"


class CredentialFactory(factory.django.DjangoModelFactory):
    """A become password (encrypted with the test settings' CREDENTIALS_KEY)."""

    class Meta:
        model = Credential

    name = factory.Sequence(lambda n: f"credential-{n}")
    kind = Credential.Kind.BECOME
    become_method = "sudo"
    secret = factory.LazyFunction(lambda: encrypt({"password": "factory-Password-1"}))
class ServerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServerGroup

    name = factory.Sequence(lambda n: f"group{n}")


class ServerMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServerMetric

    server = factory.SubFactory(ServerFactory)
    cpu = 12.5
    memory = 40.0
    disk = 55.0


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook
        exclude = ("content",)

    content = SAMPLE_PLAYBOOK
    name = factory.Sequence(lambda n: f"Playbook {n}")
    description = "A sample playbook"
    file_path = factory.LazyAttribute(lambda o: storage.write(o.content))


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    playbook = factory.SubFactory(PlaybookFactory)
    server = factory.SubFactory(ServerFactory)
    user = factory.SubFactory(UserFactory)
    status = Job.Status.PENDING
    extra_vars = factory.LazyFunction(dict)
    playbook_sha256 = hashlib.sha256(SAMPLE_PLAYBOOK.encode()).hexdigest()


class JobLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobLog

    job = factory.SubFactory(JobFactory)
    line_number = factory.Sequence(lambda n: n + 1)
    content = factory.LazyAttribute(lambda o: f"line {o.line_number}")
    log_level = JobLog.Level.INFO
    timestamp = factory.LazyFunction(timezone.now)


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    user = factory.SubFactory(UserFactory)
    action = AuditLog.Action.UPDATE
    resource_type = "server"
    resource_id = "1"
    details = factory.LazyFunction(dict)
    ip_address = "127.0.0.1"


class PlaybookVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookVersion

    playbook_id = factory.Sequence(lambda n: n + 1)
    playbook_name = factory.Sequence(lambda n: f"Playbook {n}")
    user = factory.SubFactory(UserFactory)
    action = PlaybookVersion.Action.UPDATED
    old_content = ""
    new_content = SAMPLE_PLAYBOOK
    new_sha256 = hashlib.sha256(SAMPLE_PLAYBOOK.encode()).hexdigest()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    kind = Project.Kind.GIT
    url = "https://git.example.test/ops/site.git"
    ref = "main"


class ProjectSnapshotFactory(factory.django.DjangoModelFactory):
    """A snapshot row; its directory exists only if a test makes it."""

    class Meta:
        model = ProjectSnapshot

    project = factory.SubFactory(ProjectFactory)
    revision = factory.Sequence(lambda n: f"{n:040x}")
    ref = "main"
    path = factory.LazyAttribute(lambda o: f"{o.project.pk}/snapshots/{o.revision}")
    playbooks = factory.LazyFunction(lambda: ["site.yml"])


class ProjectSyncFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectSync

    project = factory.SubFactory(ProjectFactory)
    source = factory.LazyAttribute(lambda o: o.project.source_label)
