"""Forms of the playbook pages: create or edit by text, upload, replace, filter the history."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import User
from automation.models import PlaybookVersion
from automation.selectors.playbooks import playbook_name_taken
from automation.storage import sha256_text
from automation.validation import (
    decode_upload,
    normalise_line_endings,
    playbook_warnings,
    validate_playbook,
)
from core.forms import MAX_ID, DateRangeMixin

ALLOWED_SUFFIXES = (".yml", ".yaml")


class PlaybookMetaMixin:
    # What the checks found worth saying after a save (missing files); set by clean_*.
    warnings: list[str] = []

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Enter a name.")
        if playbook_name_taken(name=name, exclude_pk=getattr(self, "instance_pk", None) or None):
            raise ValidationError(f"A playbook named {name!r} already exists (it may be deleted).")
        return name


class PlaybookForm(PlaybookMetaMixin, forms.Form):
    """Create or edit by text. ``base_fingerprint`` is what the editor started from (name,
    description and content: ``Playbook.edit_fingerprint``)."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    content = forms.CharField(
        strip=False,
        widget=forms.Textarea(
            attrs={"class": "code", "spellcheck": "false", "data-editor": "yaml"}
        ),
    )
    base_fingerprint = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, instance_pk=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance_pk = instance_pk

    @classmethod
    def editing(cls, playbook, data=None):
        """The edit form of ``playbook``, starting from its current name, description and text."""
        current = playbook.read_content()
        initial = {
            "name": playbook.name,
            "description": playbook.description,
            "content": current,
            "base_fingerprint": playbook.edit_fingerprint(current),
        }
        return cls(data, initial=initial, instance_pk=playbook.pk)

    def clean_content(self):
        text = normalise_line_endings(self.cleaned_data["content"])
        validate_playbook(text)
        self.warnings = playbook_warnings(text)
        return text


class PlaybookUploadForm(PlaybookMetaMixin, forms.Form):
    """Create from an uploaded file. The file's own name is never used as a path."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    file = forms.FileField(max_length=255, allow_empty_file=True)

    def __init__(self, *args, instance_pk=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance_pk = instance_pk

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(ALLOWED_SUFFIXES):
            raise ValidationError("Upload a .yml or .yaml file.")
        if upload.size > settings.PLAYBOOK_MAX_BYTES:
            raise ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {settings.PLAYBOOK_MAX_BYTES:,}."
            )
        if upload.size == 0:
            raise ValidationError("The file is empty.")
        text = normalise_line_endings(decode_upload(upload.read()))
        validate_playbook(text)
        self.warnings = playbook_warnings(text)
        return text


class PlaybookReplaceForm(forms.Form):
    """Replace the content of an existing playbook with an uploaded file."""

    warnings: list[str] = []
    file = forms.FileField(max_length=255, allow_empty_file=True)
    base_sha256 = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
    clean_file = PlaybookUploadForm.clean_file

    @classmethod
    def replacing(cls, playbook, data=None, files=None):
        """The replace form of ``playbook``, carrying the version it replaces."""
        return cls(data, files, initial={"base_sha256": sha256_text(playbook.read_content())})


class HistoryFilterForm(DateRangeMixin, forms.Form):
    """Filters of the all-playbooks history page; bad values become form errors. Its
    cleaned_data are the arguments of automation.selectors.playbooks.playbook_history."""

    playbook = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    user = forms.ModelChoiceField(queryset=User.objects.order_by("username"), required=False)
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *PlaybookVersion.Action.choices]
    )
