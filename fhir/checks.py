"""System checks of the FHIR settings (registered by FhirConfig.ready)."""

import re

from django.conf import settings
from django.core import checks

# An absolute URI (RFC 3986): a scheme, then no whitespace. `urn:oid:…`, `urn:novamind:mrn` and
# `https://clinic.example/mrn` all are; another system matches identifiers on it exactly.
ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


@checks.register("novamind")
def check_identifier_system(app_configs=None, **kwargs):
    """Refuse an MRN identifier system that is not an absolute URI: FHIR's Identifier.system is one."""
    value = settings.NOVAMIND_FHIR_IDENTIFIER_SYSTEM
    if isinstance(value, str) and ABSOLUTE_URI.match(value):
        return []
    return [
        checks.Error(
            "NOVAMIND_FHIR_IDENTIFIER_SYSTEM is not an absolute URI.",
            hint="Set it to the clinic's own URI for its MRNs, e.g. https://clinic.example/fhir/mrn or urn:oid:…",
            id="novamind.E080",
        )
    ]
