"""Strict parsers for settings from the environment: a bad value raises at start-up,
naming the variable, instead of silently falling back to a default."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import time
from pathlib import Path


class SettingError(ValueError):
    pass


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"{name}={raw!r}: expected true/false, yes/no, on/off or 1/0")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r}: expected a whole number") from None


def env_weekday(name: str, default: int) -> int:
    value = env_int(name, default)
    if not 1 <= value <= 7:
        raise SettingError(f"{name}={value}: expected an ISO weekday, 1 (Monday) to 7 (Sunday)")
    return value


def env_time(name: str, default: time) -> time:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw.strip())
    if not m:
        raise SettingError(f"{name}={raw!r}: expected a time of day as HH:MM")
    return time(int(m.group(1)), int(m.group(2)))


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def env_optional_path(name: str) -> Path | None:
    """A file the deployer may supply; it must exist when named."""
    raw = os.environ.get(name)
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not path.is_file():
        raise SettingError(f"{name}={raw!r}: no such file")
    return path


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = os.environ.get(name, default).strip().lower()
    if raw not in choices:
        raise SettingError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return raw


def secret_file(path: Path, make: Callable[[], str]) -> str:
    """A secret kept in ``path``: made on first use and written atomically with mode 0600
    (a concurrent first start keeps one of the two, never half a file)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(make())
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return path.read_text().strip()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the service account only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
