from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AccountForm(forms.Form):
    case_reference = forms.CharField(label=_("Case (QL…)"), max_length=20)
    account_no = forms.CharField(label=_("Account number (户号)"), max_length=40)
    holder = forms.CharField(label=_("Account holder"), max_length=200, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    mining_from = forms.DateField(label=_("Mining from"),
                                  widget=forms.DateInput(attrs={"type": "date"}))
    mining_to = forms.DateField(label=_("Mining until"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    mixed_use = forms.BooleanField(label=_("Mixed use"), required=False)


class CycleForm(forms.Form):
    account_no = forms.CharField(label=_("Account number (户号)"), max_length=40)
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To (inclusive)"),
                          widget=forms.DateInput(attrs={"type": "date"}))
    kwh = forms.DecimalField(label=_("kWh"), min_value=0, max_digits=14, decimal_places=2)


class CycleImportForm(forms.Form):
    file = forms.FileField(label=_("The grid's billing export (XLSX)"))
