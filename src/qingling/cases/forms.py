from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import Grade
from qingling.geo.models import Division
from qingling.org.models import Behaviour, Department, SubjectType


class TransitionForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(
        attrs={"rows": 2}))
    county = forms.ModelChoiceField(
        label=_("County"), required=False,
        queryset=Division.objects.filter(level=Division.Level.COUNTY),
    )


class VisitForm(forms.Form):
    visited_at = forms.DateTimeField(
        label=_("Visited at"), initial=timezone.now,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "lang": "zh-CN",
                                         "placeholder": "yyyy-mm-dd hh:mm"},
                                  format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    found_mining = forms.TypedChoiceField(
        label=_("Mining found?"), coerce=lambda v: v == "yes",
        choices=[("yes", _("Yes: mining equipment found")), ("no", _("No: not mining"))],
        widget=forms.RadioSelect,
    )
    behaviour = forms.ChoiceField(
        label=_("Behaviour"), required=False, initial="",
        choices=[("", _("Not determined yet")),
                 *[(v, lbl) for v, lbl in Behaviour.choices if v != Behaviour.UNDETERMINED]],
        help_text=_("Hijacked hosts are routed to public security; a shared egress is a "
                    "false positive for the carrier."))
    subject_name = forms.CharField(label=_("Subject (unit or person)"), max_length=200,
                                   required=False)
    subject_id = forms.CharField(label=_("Unified social credit code or ID number"),
                                 max_length=18, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    machine_count = forms.IntegerField(label=_("Machines found"), min_value=0, initial=0)
    machine_model = forms.CharField(label=_("Machine model"), max_length=100, required=False)
    power_kw = forms.DecimalField(label=_("Power (kW)"), min_value=0, max_digits=10,
                                  decimal_places=2, required=False)
    machines_seized = forms.IntegerField(label=_("Machines seized"), min_value=0, initial=0)
    power_cut = forms.BooleanField(label=_("Power cut off"), required=False)
    notes = forms.CharField(label=_("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))
    photo = forms.FileField(label=_("Photo or document"), required=False)

    def clean_subject_id(self) -> str:
        value: str = self.cleaned_data["subject_id"].strip().upper()
        if value and len(value) != 18:
            raise forms.ValidationError(_("An ID number or credit code has 18 characters."))
        return value


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("Photo or document"))
    caption = forms.CharField(label=_("Caption"), max_length=200, required=False)


class CorrectionForm(forms.Form):
    """The city's correction of a case's classification (reason required, audited)."""

    subject_type = forms.ChoiceField(label=_("Subject type"), required=False,
                                     choices=[("", "—"), *SubjectType.choices])
    behaviour = forms.ChoiceField(label=_("Behaviour"), required=False,
                                  choices=[("", "—"), *Behaviour.choices])
    grade = forms.ChoiceField(label=_("Grade"), required=False, choices=[("", "—"), *Grade.choices])
    lead_department = forms.ModelChoiceField(label=_("Lead department"), required=False,
                                             queryset=Department.objects.order_by("code"))
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             widget=forms.Textarea(attrs={"rows": 2}))
