"""The MRN identifier system must be an absolute URI, or NovaMind does not start."""

import pytest
from django.test import override_settings

from fhir import checks


@pytest.mark.parametrize(
    "value", ["urn:novamind:mrn", "https://clinic.example/fhir/mrn", "urn:oid:2.16.840.1.113883.3.1"]
)
def test_an_absolute_uri_passes(value):
    with override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM=value):
        assert checks.check_identifier_system() == []


@pytest.mark.parametrize("value", ["", "clinic mrn", "NM", "https://clinic.example/ mrn", "/fhir/mrn"])
def test_anything_else_is_a_start_up_error(value):
    with override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM=value):
        [error] = checks.check_identifier_system()
    assert error.id == "novamind.E080"
