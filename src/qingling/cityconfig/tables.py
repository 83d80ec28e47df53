"""The tables the city coordinator configures: one entry each, read by the pages and the
exports alike, so a page and its XLSX never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.forms import ModelForm
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from qingling.cases.classify import FIELDS
from qingling.cases.models import ClassificationRule
from qingling.cityconfig import forms
from qingling.org.models import RoutingRule
from qingling.supervision.models import EnergyFactor, TariffRate


@dataclass(frozen=True)
class Table:
    slug: str
    title: Promise
    intro: Promise
    model: type[models.Model]
    form: type[ModelForm[Any]]
    columns: tuple[str, ...]  # field names, shown with their (translated) verbose names
    # Values that are codes or patterns (shown as code, never translated), and columns whose
    # stored value has a name for the city.
    code: tuple[str, ...] = ()
    named: tuple[tuple[str, dict[str, Any]], ...] = ()

    def headers(self) -> list[str]:
        return [str(getattr(self.model._meta.get_field(c), "verbose_name", c))
                for c in self.columns]

    def shown(self, obj: models.Model) -> list[tuple[Any, bool]]:
        """A row for the page: each cell with whether it is code."""
        return list(zip(self.cells(obj), (c in self.code for c in self.columns), strict=True))

    def cells(self, obj: models.Model) -> list[Any]:
        out: list[Any] = []
        names = dict(self.named)
        for c in self.columns:
            f = self.model._meta.get_field(c)
            if c in names:
                value = getattr(obj, c)
                out.append(str(names[c].get(value, value)))
            elif f.many_to_many:
                out.append("、".join(str(d) for d in getattr(obj, c).all()))
            elif f.many_to_one:
                related = getattr(obj, c)
                out.append("" if related is None else str(related))
            elif getattr(f, "choices", None):
                out.append(str(getattr(obj, f"get_{c}_display")()))
            elif isinstance(f, models.BooleanField):
                out.append(str(_("yes") if getattr(obj, c) else _("no")))
            else:
                value = getattr(obj, c)
                out.append("" if value is None else value)
        return out

    def rows(self) -> Any:
        qs = self.model._default_manager.all()
        if any(self.model._meta.get_field(c).many_to_many for c in self.columns):
            qs = qs.prefetch_related(*[c for c in self.columns
                                       if self.model._meta.get_field(c).many_to_many])
        return qs


TABLES = {t.slug: t for t in (
    Table("classification", _("Classification rules"),
          _("Rules run in priority order; for subject type, behaviour and grade the first "
            "matching rule that sets it wins. New cases and reclassified ones follow them."),
          ClassificationRule, forms.ClassificationRuleForm,
          ("priority", "name", "field", "operator", "value", "set_subject_type",
           "set_behaviour", "set_grade", "is_active"),
          code=("value",), named=(("field", FIELDS),)),
    Table("routing", _("Routing rules"),
          _("Which department leads a case of a subject type or behaviour, and which share "
            "the work."),
          RoutingRule, forms.RoutingRuleForm,
          ("subject_type", "behaviour", "lead", "co_departments", "note")),
    Table("coefficients", _("Energy coefficients"),
          _("Tonnes of standard coal and of CO2 per kWh, from a date: a week's assessment "
            "uses the coefficients in force at its cut-off."),
          EnergyFactor, forms.EnergyFactorForm,
          ("valid_from", "tce_per_kwh", "tco2_per_kwh", "source")),
    Table("tariffs", _("Surcharge rates"),
          _("The punitive surcharge on mining electricity by province, from a date."),
          TariffRate, forms.TariffRateForm,
          ("province_name", "province_code", "yuan_per_kwh", "valid_from", "source")),
)}
