"""The forms of the city's configuration pages: Django's model validation (a rule's
pattern, a unique date) with widgets that speak Chinese (dates as yyyy-mm-dd)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from qingling.cases.classify import FIELDS
from qingling.cases.models import ClassificationRule
from qingling.org.models import CitySetting, Department, RoutingRule
from qingling.supervision.bulletin import check_text
from qingling.supervision.models import EnergyFactor, TariffRate


class ChineseDate(forms.DateInput):
    """A native date picker told to speak Chinese, with the format said for browsers
    that show a text box instead."""

    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d",
                         attrs={"lang": "zh-CN", "placeholder": "yyyy-mm-dd"})


class ClassificationRuleForm(forms.ModelForm[ClassificationRule]):
    # Only a fact the classifier is given can be tested (a mistyped one would never match).
    field = forms.ChoiceField(label=_("field"), required=False,
                              choices=[("", _("(none: the rule always applies)")),
                                       *FIELDS.items()])

    class Meta:
        model = ClassificationRule
        fields = ["priority", "name", "field", "operator", "value", "set_subject_type",
                  "set_behaviour", "set_grade", "is_active"]


class RoutingRuleForm(forms.ModelForm[RoutingRule]):
    class Meta:
        model = RoutingRule
        fields = ["subject_type", "behaviour", "lead", "co_departments", "note"]
        widgets = {"co_departments": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        active = Department.objects.filter(is_active=True)
        self.fields["lead"].queryset = active  # type: ignore[attr-defined]
        self.fields["co_departments"].queryset = active  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("subject_type") and not data.get("behaviour"):
            raise forms.ValidationError(_("A routing rule names a subject type, a behaviour, "
                                          "or both."))
        return data


class EnergyFactorForm(forms.ModelForm[EnergyFactor]):
    class Meta:
        model = EnergyFactor
        fields = ["valid_from", "tce_per_kwh", "tco2_per_kwh", "source"]
        widgets = {"valid_from": ChineseDate()}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("tce_per_kwh", "tco2_per_kwh"):
            value = data.get(name)
            if value is not None and value <= 0:
                self.add_error(name, _("A coefficient is a positive number."))
        return data


class TariffRateForm(forms.ModelForm[TariffRate]):
    class Meta:
        model = TariffRate
        fields = ["province_code", "province_name", "yuan_per_kwh", "valid_from", "source"]
        widgets = {"valid_from": ChineseDate()}

    def clean_province_code(self) -> str:
        code = self.cleaned_data["province_code"].strip()
        if not (len(code) == 6 and code.isdigit() and code.endswith("0000")):
            raise forms.ValidationError(_("A province code has six digits ending in 0000 "
                                          "(浙江 is 330000)."))
        return code

    def clean_yuan_per_kwh(self) -> Any:
        value = self.cleaned_data["yuan_per_kwh"]
        if value is not None and value <= 0:
            raise forms.ValidationError(_("A surcharge is a positive number of yuan per kWh."))
        return value


class TextForm(forms.Form):
    body = forms.CharField(label=_("text"), widget=forms.Textarea(attrs={"rows": 8}),
                           strip=True)

    def clean_body(self) -> str:
        body: str = self.cleaned_data["body"]
        problems = check_text(body)
        if problems:
            raise forms.ValidationError(problems)
        return body


class CutoffForm(forms.ModelForm[CitySetting]):
    class Meta:
        model = CitySetting
        fields = ["cutoff_weekday", "cutoff_time"]
        widgets = {"cutoff_time": forms.TimeInput(format="%H:%M",
                                                  attrs={"type": "time", "lang": "zh-CN",
                                                         "placeholder": "hh:mm"})}
