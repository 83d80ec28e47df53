"""Thumbnails of image evidence, made once per picture with Pillow and cached under
QINGLING_HOME (by the file's SHA-256: evidence never changes once stored)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps

from qingling.cases.models import Evidence

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
SIZE = 320  # px, the longer side


def is_image(ev: Evidence) -> bool:
    return ev.content_type in IMAGE_TYPES


def thumbnail(ev: Evidence) -> Path | None:
    """The cached JPEG thumbnail of an image evidence (made on first use); None when the
    evidence is no picture, or its stored file is missing or unreadable."""
    if not is_image(ev):
        return None
    cache = Path(settings.QINGLING_HOME) / "cache" / "thumbs"
    out = cache / f"{ev.sha256}-{SIZE}.jpg"
    if out.is_file():
        return out
    source = Path(settings.MEDIA_ROOT) / ev.storage_path
    if not source.is_file():
        return None
    try:
        with Image.open(source) as original:
            img = ImageOps.exif_transpose(original)
            img.thumbnail((SIZE, SIZE))
            buf = io.BytesIO()
            img.convert("RGB").save(buf, "JPEG", quality=80)
    except (OSError, Image.DecompressionBombError):
        return None
    cache.mkdir(parents=True, exist_ok=True)
    # Atomic: two requests making the same thumbnail never serve a half-written file.
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, out)
    return out
