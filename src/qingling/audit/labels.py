"""What audit entries are called on a page. The action names and states of an entry belong
to the app that writes it; each app registers its words here (in its AppConfig.ready), so
that a case timeline can name an escalation's move without the cases app knowing about
supervision."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.functional import Promise

ACTIONS: dict[str, str | Promise] = {}
STATES: dict[str, str | Promise] = {}


def labels_register(*, actions: Mapping[str, str | Promise] | None = None,
                    states: Mapping[str, str | Promise] | None = None) -> None:
    ACTIONS.update(actions or {})
    STATES.update(states or {})


def action_text(action: str) -> str | None:
    label = ACTIONS.get(action)
    return None if label is None else str(label)


def state_text(state: str) -> str | None:
    label = STATES.get(state)
    return None if label is None else str(label)
