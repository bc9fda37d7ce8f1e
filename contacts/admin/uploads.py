"""Uploaded import files: a size limit, and no copy left behind.

django-import-export keeps the uploaded file between the dry run and the confirmed import. These
files hold personal data, so they live in their own folder (var/imports/), are removed after the
import, right after a dry run that cannot be confirmed, and, for dry runs nobody confirmed, once
they are older than IMPORT_UPLOAD_MAX_AGE_MINUTES (checked at every upload).
"""

import os
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from import_export.forms import ImportForm
from import_export.tmp_storages import TempFolderStorage


def upload_dir() -> Path:
    path = Path(settings.IMPORT_UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


class ImportUploadStorage(TempFolderStorage):
    """Uploaded files in IMPORT_UPLOAD_DIR rather than the shared system temp folder."""

    name: str | None  # set by the base class from its `name` argument, or by `save`

    def get_full_path(self) -> str:
        assert self.name is not None  # `save` names the file before anything reads or removes it
        return str(upload_dir() / os.path.basename(self.name))

    def save(self, data: bytes | str) -> None:
        if not self.name:
            self.name = os.urandom(16).hex()
        raw = data if isinstance(data, bytes) else data.encode(self.encoding or "utf-8")
        Path(self.get_full_path()).write_bytes(raw)

    def remove(self) -> None:
        Path(self.get_full_path()).unlink(missing_ok=True)


def discard_upload(name: str | None) -> None:
    if name:
        ImportUploadStorage(name=name).remove()


def uploaded_name(request) -> str | None:
    """The stored name of the file this import request uploaded, once django-import-export stored it."""
    return getattr(request.FILES.get("import_file"), "tmp_storage_name", None)


def discard_stale_uploads() -> None:
    cutoff = time.time() - settings.IMPORT_UPLOAD_MAX_AGE_MINUTES * 60
    for path in upload_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


class LimitedImportForm(ImportForm):
    """Refuses a file over IMPORT_MAX_UPLOAD_BYTES before anything reads it."""

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s; files up to %(limit)s can be imported.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)},
                code="file_too_large",
            )
        return upload
