from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import ListType
from qingling.common.weeks import IsoWeek


class ImportForm(forms.Form):
    file = forms.FileField(label=_("List file (CSV or XLSX)"))
    list_type = forms.ChoiceField(label=_("List type"), choices=ListType.choices)
    week = forms.CharField(label=_("Week"), max_length=8,
                           help_text=_("ISO week, e.g. 2026-W48"))
    issuer = forms.CharField(label=_("Issuer"), max_length=100, required=False)
    accept_valid = forms.BooleanField(
        label=_("Import the valid rows and keep rejected rows with their reasons"),
        required=False,
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["week"].initial = str(IsoWeek.of(timezone.now()))

    def clean_week(self) -> IsoWeek:
        try:
            return IsoWeek.parse(self.cleaned_data["week"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
