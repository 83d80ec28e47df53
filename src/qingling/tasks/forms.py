from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TaskActForm(forms.Form):
    comment = forms.CharField(label=_("Reason"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 2}))
    institution = forms.CharField(label=_("Institution or measure"), required=False,
                                  max_length=200)
    amount = forms.DecimalField(label=_("Amount (yuan)"), required=False, min_value=0,
                                max_digits=16, decimal_places=2)
    effective_on = forms.DateField(label=_("Effective on"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    file = forms.FileField(label=_("Evidence (photo or document)"), required=False)


class SensitiveForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)
