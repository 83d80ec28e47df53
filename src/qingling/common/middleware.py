"""Security headers for every response."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# The app serves its own scripts and styles and nothing else; no inline script, no plugin,
# no framing. Style attributes stay allowed (bar widths); they cannot run code.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
          "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
          "frame-ancestors 'none'")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
