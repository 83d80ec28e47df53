"""Problems told language-neutrally: an English msgid and its parameters.

A row error or a refusal is often kept (an import batch stores its rejected rows) and read
later by someone in another language. It is stored as the msgid and its parameters and put
into words only when shown, in the reader's language; ``str()`` gives the English words
(logs, the operators' console, tests).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext


def problem_text(message: str, params: Mapping[str, object] | None = None) -> str:
    """``message`` (a msgid marked with gettext_noop) in the active language."""
    text = gettext(message)
    return text % dict(params) if params else text


def problem_html(message: str, params: Mapping[str, object] | None = None) -> SafeString:
    """The same for a page: the offending cell value (``value``) is marked as code."""
    shown = {k: format_html("<code>{}</code>", v) if k == "value" else conditional_escape(str(v))
             for k, v in (params or {}).items()}
    text = conditional_escape(gettext(message))
    return mark_safe(text % shown if shown else text)  # noqa: S308 - every part is escaped


class Problem(ValueError):
    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(message % self.params if self.params else message)

    def text(self) -> str:
        return problem_text(self.message, self.params)
