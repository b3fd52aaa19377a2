"""Builders of the diagnosis tests."""

from diagnoses import domain


def a_diagnosis(patient, code="F32.1", **fields) -> domain.Diagnosis:
    """Return an unsaved diagnosis of `patient` (a domain or ORM patient)."""
    return domain.Diagnosis(patient_id=patient.id, code=code, **fields)
