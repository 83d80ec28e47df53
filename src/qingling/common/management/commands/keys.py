from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from qingling.common import crypto
from qingling.common.models import DataKey
from qingling.common.reseal import models_with_secrets, reseal


class Command(BaseCommand):
    help = ("Data keys of the personal-data encryption. `keys rotate`: a new data key, then "
            "every sealed value re-sealed with it in batches (run again to resume). "
            "`keys status`: the data keys.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rotate", "resume", "status"])
        parser.add_argument("--cipher", choices=["sm4", "aes"], default=None,
                            help="algorithm of the new data key (default: QINGLING_CIPHER, sm4)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "status":
            for k in DataKey.objects.all():
                self.stdout.write(f"v{k.version} {k.algorithm} {k.created_at:%Y-%m-%d %H:%M}")
            return
        crypto.reset_cache()
        if opts["action"] == "rotate":
            alg = {"sm4": "sm4-gcm", "aes": "aes-256-gcm"}.get(opts["cipher"] or "")
            version = crypto.new_data_key(alg)
            self.stdout.write(f"data key v{version} is now current")
        total = 0
        for model in models_with_secrets():
            n = reseal(model, say=lambda m: self.stdout.write(m))
            total += n
        self.stdout.write(f"re-sealed {total} rows with data key v{crypto.current_version()}")
