"""A write that meets another long write on the embedded SQLite waits (busy timeout); if it
still cannot get the lock, the user is told the system is busy and to try again — a page
in their language with HTTP 503 and Retry-After — never a traceback. Nothing was written:
the request's transaction was rolled back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

log = logging.getLogger("qingling.busy")


def is_lock_timeout(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text or (
        "lock timeout" in text)


class BusyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError) or not is_lock_timeout(exception):
            return None
        log.warning("busy: %s %s waited for the database lock and gave up", request.method,
                    request.path)
        back = request.get_full_path() if request.method == "GET" else (
            request.META.get("HTTP_REFERER") or "/")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
            back = "/"
        resp = HttpResponse(render_to_string("busy.html", {"back": back}, request=request),
                            status=503)
        resp["Retry-After"] = "10"
        return resp
