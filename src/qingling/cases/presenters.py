"""What a user is shown of a case's personal data (names, IDs, phones, addresses)."""

from __future__ import annotations

from dataclasses import dataclass

from qingling.cases.models import Case
from qingling.org.models import Profile, SubjectType
from qingling.org.scope import can_see_personal, mask_address, mask_id, mask_name, mask_phone


@dataclass(frozen=True)
class Personal:
    name: str
    id_number: str
    phone: str
    address: str
    masked: bool


def personal(case: Case, profile: Profile | None, revealed: bool = False) -> Personal:
    """Masked for every role unless ``revealed`` (the user gave a reason, and it was
    audited) and the role may see personal data at all."""
    if revealed and can_see_personal(profile):
        return Personal(case.subject_name, case.id_number, case.phone, case.address, False)
    # An organisation's name and address are public facts; a person's are not.
    person = case.subject_type in (SubjectType.RESIDENTIAL, SubjectType.UNKNOWN)
    shown = (mask_name(case.subject_name) if person else case.subject_name,
             mask_id(case.id_number), mask_phone(case.phone),
             mask_address(case.address) if person else case.address)
    real = (case.subject_name, case.id_number, case.phone, case.address)
    # "Masked" only when something is hidden: a unit's page with nothing personal on it
    # offers no reveal (and records none).
    return Personal(*shown, masked=shown != real)
