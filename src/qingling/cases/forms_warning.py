from __future__ import annotations

import ipaddress

from django import forms
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import WarningEntry


class WarningEntryForm(forms.ModelForm[WarningEntry]):
    class Meta:
        model = WarningEntry
        fields = ["network", "kind", "name", "note"]

    def clean_network(self) -> str:
        text = self.cleaned_data["network"].strip()
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise forms.ValidationError(_("Not an IP address or network.")) from None
        if net.num_addresses > 2**24 and net.version == 4:
            raise forms.ValidationError(_("Too wide: a warning list names exits, not regions."))
        return str(net) if net.num_addresses > 1 else str(net.network_address)
