"""Forms of the project pages: a project's name and source (a Git repository or an archive)."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from automation.models import Project
from automation.services.projects import (
    archive_suffix,
    clean_git_ref,
    clean_git_url,
    clean_key_path,
)
from inventory.models import Credential


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(choices=Project.Kind.choices, widget=forms.RadioSelect)
    url = forms.CharField(
        label="Repository",
        required=False,
        max_length=1000,
        help_text="https://..., ssh://git@host/path.git, git@host:path.git, or an absolute "
        "path on the controller.",
    )
    ref = forms.CharField(
        label="Branch, tag or commit",
        required=False,
        max_length=255,
        help_text="Empty: the repository's default branch.",
    )
    key_path = forms.CharField(
        label="Deploy key",
        required=False,
        max_length=500,
        help_text=f"For ssh: a private key file in {settings.SSH_KEYS_DIR}.",
    )
    credential = forms.ModelChoiceField(
        queryset=Credential.objects.filter(kind=Credential.Kind.GIT),
        required=False,
        label="Git credential",
        help_text="A stored SSH key or https token (Credentials page); wins over a deploy key.",
    )
    archive = forms.FileField(
        required=False,
        help_text=".tar.gz, .tgz, .tar or .zip, at most "
        f"{settings.PROJECT_ARCHIVE_MAX_BYTES // (1024 * 1024)} MiB.",
    )

    def __init__(self, *args, project: Project | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        if project is not None:
            # A project keeps its kind: a new source of the same kind is a new sync.
            self.fields["kind"].disabled = True
            self.fields["kind"].required = False
            unused = (
                ["archive"]
                if project.kind == Project.Kind.GIT
                else ["url", "ref", "key_path", "credential"]
            )
            for name in unused:
                del self.fields[name]

    @classmethod
    def editing(cls, project: Project, data=None, files=None):
        initial = {
            "name": project.name,
            "description": project.description,
            "kind": project.kind,
            "url": project.url,
            "ref": project.ref,
            "key_path": project.key_path,
            "credential": project.credential_id,
        }
        return cls(data, files, project=project, initial=initial)

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Enter a name.")
        clash = Project.objects.filter(name=name)
        if self.project is not None:
            clash = clash.exclude(pk=self.project.pk)
        if clash.exists():
            raise ValidationError(f"A project named {name!r} already exists (it may be deleted).")
        return name

    def clean_archive(self):
        archive = self.cleaned_data.get("archive")
        if archive:
            archive_suffix(archive.name or "")
            if archive.size > settings.PROJECT_ARCHIVE_MAX_BYTES:
                raise ValidationError(
                    f"The archive is {archive.size:,} bytes; the limit is "
                    f"{settings.PROJECT_ARCHIVE_MAX_BYTES:,} bytes."
                )
        return archive

    def clean(self):
        data = super().clean()
        kind = self.project.kind if self.project is not None else data.get("kind")
        data["kind"] = kind
        if kind == Project.Kind.GIT:
            for name, check in (
                ("url", clean_git_url),
                ("ref", clean_git_ref),
                ("key_path", clean_key_path),
            ):
                if name in data:
                    try:
                        data[name] = check(data[name])
                    except ValidationError as exc:
                        self.add_error(name, exc)
        elif (
            kind == Project.Kind.ARCHIVE
            and not data.get("archive")
            and (self.project is None or not self.project.archive_file)
        ):
            self.add_error("archive", "Upload the project's archive.")
        return data
