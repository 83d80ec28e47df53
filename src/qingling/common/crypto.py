"""Personal data encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from ``QINGLING_DATA_KEY`` or, on a single machine, from
``$QINGLING_HOME/data_key``, created on first use with mode 0600. A database copied without
its key reveals no names, ID numbers, phones or addresses. Losing the key loses the data:
back it up apart from the database.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(home: str, env_key: str | None) -> Fernet:
    if env_key:
        return Fernet(env_key.encode())
    path = Path(home) / "data_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(Fernet.generate_key())
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return Fernet(path.read_bytes().strip())


@lru_cache(maxsize=4)
def _secret_file(home: str, name: str, env_value: str | None) -> bytes:
    """A 32-byte secret from the environment (hex) or from ``$QINGLING_HOME/<name>``,
    created on first use with mode 0600."""
    if env_value:
        return bytes.fromhex(env_value)
    path = Path(home) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(os.urandom(32).hex().encode())
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return bytes.fromhex(path.read_text().strip())


def audit_key() -> bytes:
    """The key of the audit log's hash chain (``QINGLING_AUDIT_KEY``, 64 hex digits, or
    ``$QINGLING_HOME/audit_key``): without it a tamperer cannot recompute the chain."""
    return _secret_file(str(settings.QINGLING_HOME), "audit_key",
                        os.environ.get("QINGLING_AUDIT_KEY"))


def fernet() -> Fernet:
    return _fernet(str(settings.QINGLING_HOME), os.environ.get("QINGLING_DATA_KEY"))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode("utf-8")).decode("ascii") if text else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("personal data cannot be decrypted: wrong QINGLING_DATA_KEY") from None
