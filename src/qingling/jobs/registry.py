"""What each kind of job runs. Apps on higher floors register their handlers by dotted
path (in their AppConfig.ready), so this floor never imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

# (job, its input or None, the reporter to say where it is) -> the job's result
Handler = Callable[[Any, bytes | None, Any], dict[str, Any]]

_handlers: dict[str, str] = {}
_lanes: dict[str, str] = {}
_templates: dict[str, str] = {}


def register(kind: str, dotted: str, lane: str = "default", template: str = "") -> None:
    """``template`` renders the job's result on its page (extends jobs/job.html)."""
    _handlers[kind] = dotted
    _lanes[kind] = lane
    if template:
        _templates[kind] = template


def template(kind: str) -> str:
    return _templates.get(kind, "jobs/job.html")


def handler(kind: str) -> Handler:
    if kind not in _handlers:
        raise LookupError(f"no handler registered for job kind {kind!r}")
    fn: Handler = import_string(_handlers[kind])
    return fn


def lane(kind: str) -> str:
    return _lanes.get(kind, "default")
