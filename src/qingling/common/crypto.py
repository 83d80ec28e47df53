"""Personal data at rest: envelope encryption with national-cryptography algorithms.

- A **key-encryption key** (KEK) comes from ``QINGLING_DATA_KEY`` or from a key file
  (``QINGLING_KEY_FILE``; for a single machine's zero-setup default, a file created 0600 in
  the service account's ``~/.config/qingling/keys/`` — never beside the database; production
  keeps it in the environment, see deploy/). Losing it loses the data: keep an offline copy.
- **Data keys** (DEKs) are random, versioned, stored in the database only wrapped by the KEK
  (``common.DataKey``). Values are sealed with the current data key in SM4-GCM (GB/T 32907,
  the default) or AES-256-GCM (``QINGLING_CIPHER=aes``): ``ql1:<version>:<base64>``.
  ``qingling keys rotate`` makes a new data key and re-seals every value in batches.
- **Blind indexes** (``blind``): SM3-HMAC under a key derived from the KEK, so a name, ID
  number or phone can be found by exact match without storing it.

Tokens of the earlier Fernet scheme are still read (and re-sealed by rotation).
"""

from __future__ import annotations

import base64
import hashlib
import os
import unicodedata
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from qingling.common.env import secret_file, write_private

PREFIX = "ql1:"
NONCE = 12
TAG = 16


class CryptoError(ValueError):
    pass


# --- the key-encryption key ------------------------------------------------------------

def default_key_file(home: Path) -> Path:
    """Where a single machine keeps its key-encryption key when neither
    ``QINGLING_DATA_KEY`` nor ``QINGLING_KEY_FILE`` is set: in the service account's own
    configuration directory, never beside the database (a copy of ``QINGLING_HOME`` —
    a backup, a stolen disk image of the data volume — carries ciphertext only). One file
    per installation, named after its home directory."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    tag = hashlib.sha256(str(home.resolve()).encode("utf-8")).hexdigest()[:16]
    return base / "qingling" / "keys" / f"{tag}.key"


def _key_file(explicit: str | None, home: Path) -> Path:
    if explicit:
        return Path(explicit)
    path = default_key_file(home)
    legacy = home / "data_key"  # where earlier versions kept it
    if legacy.is_file() and not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, legacy.read_bytes())
        legacy.unlink()
    return path


@lru_cache(maxsize=4)
def _kek_from(env_key: str | None, path: str) -> bytes:
    raw = env_key or secret_file(Path(path), lambda: Fernet.generate_key().decode("ascii"))
    try:
        key = base64.urlsafe_b64decode(raw) if len(raw) == 44 else bytes.fromhex(raw)
    except ValueError:
        raise CryptoError("QINGLING_DATA_KEY: expected a Fernet key or 64 hex digits") from None
    if len(key) != 32:
        raise CryptoError("QINGLING_DATA_KEY: the key must be 32 bytes")
    return key


def kek() -> bytes:
    return _kek_for(os.environ.get("QINGLING_DATA_KEY"), os.environ.get("QINGLING_KEY_FILE"),
                    str(settings.QINGLING_HOME))


@lru_cache(maxsize=4)
def _kek_for(env_key: str | None, explicit: str | None, home: str) -> bytes:
    if env_key:
        return _kek_from(env_key, "")
    return _kek_from(None, str(_key_file(explicit, Path(home))))


def _derive(key: bytes, purpose: bytes) -> bytes:
    """A key for one purpose, derived from the key-encryption key (SM3-HMAC)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(purpose)
    return mac.finalize()


# --- ciphers ----------------------------------------------------------------------------

def _seal(alg: str, key: bytes, plain: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    if alg == "aes-256-gcm":
        return nonce + AESGCM(key).encrypt(nonce, plain, None)
    enc = Cipher(algorithms.SM4(key[:16]), modes.GCM(nonce)).encryptor()
    return nonce + enc.update(plain) + enc.finalize() + enc.tag


def _open(alg: str, key: bytes, sealed: bytes) -> bytes:
    nonce, body = sealed[:NONCE], sealed[NONCE:]
    try:
        if alg == "aes-256-gcm":
            return AESGCM(key).decrypt(nonce, body, None)
        dec = Cipher(algorithms.SM4(key[:16]), modes.GCM(nonce, body[-TAG:])).decryptor()
        return dec.update(body[:-TAG]) + dec.finalize()
    except InvalidTag:
        raise CryptoError("personal data cannot be decrypted: wrong key, or the value was "
                          "altered") from None


def default_algorithm() -> str:
    return "aes-256-gcm" if os.environ.get("QINGLING_CIPHER", "sm4") == "aes" else "sm4-gcm"


# --- data keys --------------------------------------------------------------------------

_dek_cache: dict[int, tuple[str, bytes]] = {}
_current: list[int] = []


def reset_cache() -> None:
    """Forget cached data keys (after a rotation in another process, or between tests)."""
    _dek_cache.clear()
    _current.clear()


def _wrap_key() -> bytes:
    return _derive(kek(), b"qingling data-key wrap")[:32]


def _load(version: int) -> tuple[str, bytes]:
    if version not in _dek_cache:
        from qingling.common.models import DataKey

        row = DataKey.objects.filter(version=version).first()
        if row is None:
            raise CryptoError(f"data key version {version} is missing from the database")
        _dek_cache[version] = (row.algorithm,
                               _open("aes-256-gcm", _wrap_key(),
                                     base64.b64decode(row.wrapped)))
    return _dek_cache[version]


def current_version() -> int:
    if not _current:
        from qingling.common.models import DataKey

        latest = DataKey.objects.order_by("-version").first()
        _current.append(latest.version if latest else new_data_key())
    return _current[0]


def new_data_key(algorithm: str | None = None) -> int:
    """A new data key becomes current (its predecessors still decrypt)."""
    from django.db import IntegrityError, transaction

    from qingling.common.models import DataKey

    alg = algorithm or default_algorithm()
    dek = os.urandom(32)
    wrapped = base64.b64encode(_seal("aes-256-gcm", _wrap_key(), dek)).decode("ascii")
    latest = DataKey.objects.order_by("-version").first()
    version = (latest.version if latest else 0) + 1
    try:
        with transaction.atomic():
            DataKey.objects.create(version=version, algorithm=alg, wrapped=wrapped)
    except IntegrityError:  # another process made it first: use theirs
        reset_cache()
        return current_version()
    _dek_cache[version] = (alg, dek)
    _current[:] = [version]
    return version


# --- values -----------------------------------------------------------------------------

def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def version_of(token: str) -> int | None:
    if not is_sealed(token):
        return None
    return int(token.split(":", 2)[1])


def encrypt(text: str) -> str:
    if not text:
        return ""
    version = current_version()
    alg, key = _load(version)
    body = base64.b64encode(_seal(alg, key, text.encode("utf-8"))).decode("ascii")
    return f"{PREFIX}{version}:{body}"


@lru_cache(maxsize=4)
def _legacy_fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


def decrypt(token: str) -> str:
    if not token:
        return ""
    if is_sealed(token):
        _, version, body = token.split(":", 2)
        alg, key = _load(int(version))
        return _open(alg, key, base64.b64decode(body)).decode("utf-8")
    if token.startswith("gAAAA"):  # the earlier Fernet scheme (same key)
        try:
            return _legacy_fernet(kek()).decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise CryptoError("personal data cannot be decrypted: wrong QINGLING_DATA_KEY") \
                from None
    return token  # written before encryption covered this field; sealed by rotation


# --- blind indexes ----------------------------------------------------------------------

def norm(text: str) -> str:
    """How personal values are compared: NFKC, no spaces, case-folded."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def blind(value: str, purpose: str) -> str:
    """An exact-match index of ``value`` (normalised) that reveals nothing without the key."""
    v = norm(value)
    if not v:
        return ""
    mac = hmac.HMAC(_index_key(kek()), hashes.SM3())
    mac.update(purpose.encode("ascii") + b"\0" + v.encode("utf-8"))
    return mac.finalize().hex()[:32]


@lru_cache(maxsize=4)
def _index_key(key: bytes) -> bytes:
    """The blind-index key: derived once per key-encryption key."""
    return _derive(key, b"qingling blind index")


# --- other secrets ----------------------------------------------------------------------

@lru_cache(maxsize=4)
def _secret_file(home: str, name: str, env_value: str | None) -> bytes:
    """A 32-byte secret from the environment (hex) or from ``$QINGLING_HOME/<name>``,
    created on first use with mode 0600."""
    return bytes.fromhex(env_value or secret_file(Path(home) / name, lambda: os.urandom(32).hex()))


def audit_key() -> bytes:
    """The key of the audit log's hash chain (``QINGLING_AUDIT_KEY``, 64 hex digits, or
    ``$QINGLING_HOME/audit_key``): without it a tamperer cannot recompute the chain."""
    return _secret_file(str(settings.QINGLING_HOME), "audit_key",
                        os.environ.get("QINGLING_AUDIT_KEY"))


# --- files ------------------------------------------------------------------------------

_FILE_MAGIC = b"QLSEAL1\n"


def seal_bytes(data: bytes) -> bytes:
    """A whole file sealed with the current data key (spooled uploads awaiting a job)."""
    version = current_version()
    alg, key = _load(version)
    return _FILE_MAGIC + version.to_bytes(4, "big") + _seal(alg, key, data)


def open_bytes(blob: bytes) -> bytes:
    if not blob.startswith(_FILE_MAGIC):
        raise CryptoError("not a sealed file")
    head = len(_FILE_MAGIC)
    alg, key = _load(int.from_bytes(blob[head:head + 4], "big"))
    return _open(alg, key, blob[head + 4:])
