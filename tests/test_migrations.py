from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_models_and_the_migrations_agree() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_a_command_on_an_old_database_says_to_run_init(db: None, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from qingling import cli

    monkeypatch.setattr(cli, "_pending_migrations", lambda: 2)
    assert cli.main(["digest"]) == 1
    assert "run `qingling init` first" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_pending_migrations", lambda: 0)
    assert cli.main(["digest", "--date", "2026-11-20"]) == 0
