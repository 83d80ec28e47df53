"""Messages of Django's own templates that its Chinese catalogue lacks (the admin index's
table headers, new in Django 5.x). Marked here so that makemessages keeps them in ours,
which Django reads before its own."""

from django.utils.translation import gettext_noop

DJANGO_MSGIDS = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
)
