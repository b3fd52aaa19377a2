"""Reads of one patient's diagnoses for a user: the policy is asked first, only the rows shown are decrypted.

The problem list is read by the patient banner, the notes (which address diagnoses from it), the
`diagnosis_list` command and the admin. Each read here asks `patients.policy.require` for the
role's `diagnoses.view_diagnosis` and for care; a refusal is AccessDenied and nothing is read.
"""

from __future__ import annotations

from diagnoses import domain, models, repository
from novamind.domain import parse_id
from patients import policy

VIEW = "diagnoses.view_diagnosis"


def problem_list(*, patient_id, user, include_past: bool = False) -> list[domain.Diagnosis]:
    """Return the patient's current diagnoses (primary first) as `user` may read them; with `include_past`, all."""
    policy.require(user, VIEW, patient_id=patient_id)
    return repository.DjangoDiagnosisRepository(actor=user).for_patient(patient_id, include_past=include_past)


def of_patient(*, patient_id, ids, user) -> dict:
    """Return {id: diagnosis} of those of `ids` that are the patient's (any status), as `user` may read them.

    An id of another patient's diagnosis, or of none, is simply not in the answer: the caller says
    it is not on this patient's list, and learns nothing of the other.
    """
    wanted = {parse_id(value) for value in ids} - {None}
    if not wanted:
        return {}
    policy.require(user, VIEW, patient_id=patient_id)
    rows = models.Diagnosis.objects.filter(patient_id=parse_id(patient_id), pk__in=wanted)
    return {row.pk: row.to_domain(with_audit=False) for row in rows}
