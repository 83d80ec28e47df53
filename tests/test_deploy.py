"""The documented production settings pass Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def production_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / "deploy" / "production.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
    return env


def test_check_deploy_is_clean_with_the_documented_settings(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; production never does.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {**inherited, **production_env(), "QINGLING_HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT / "src"),
           # The examples are placeholders; the check needs real-shaped values.
           "QINGLING_DATA_KEY": Fernet.generate_key().decode(), "QINGLING_AUDIT_KEY": "ab" * 32,
           "QINGLING_SECRET_KEY": "s" * 10 + os.urandom(30).hex()}
    done = subprocess.run([sys.executable, "-m", "qingling", "manage", "check", "--deploy",
                           "--fail-level", "WARNING"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
