"""Evidence files: identified by their content, never by their name; stored by sha256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _


class UploadRejected(ValueError):
    pass


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str
    kind: str  # "photo" | "document"
    storage_path: str  # relative to MEDIA_ROOT


_EXT = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


def sniff_content_type(head: bytes, data: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return _EXT_KEYS["docx"]
            if any(n.startswith("xl/") for n in names):
                return _EXT_KEYS["xlsx"]
    return None


_EXT_KEYS = {v.lstrip("."): k for k, v in _EXT.items()}


def store_upload(stream: BinaryIO) -> StoredFile:
    limit: int = settings.QINGLING_UPLOAD_MAX_BYTES
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(
            _("The file is larger than the limit of %(mb)d MB.") % {"mb": limit // (1024 * 1024)}
        )
    if not data:
        raise UploadRejected(_("The file is empty."))
    content_type = sniff_content_type(data[:16], data)
    if content_type is None:
        raise UploadRejected(
            _("Only photos (JPEG, PNG, WebP) and documents (PDF, DOCX, XLSX) are accepted.")
        )
    if content_type.startswith("image/"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                img.verify()
        except Exception:
            raise UploadRejected(_("The photo is damaged and cannot be read.")) from None
    digest = hashlib.sha256(data).hexdigest()
    rel = Path("evidence") / digest[:2] / f"{digest}{_EXT[content_type]}"
    target = Path(settings.MEDIA_ROOT) / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file in the same folder and rename: a crash never leaves a
        # half-written file under the final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    kind = "photo" if content_type.startswith("image/") else "document"
    return StoredFile(digest, len(data), content_type, kind, str(rel))
