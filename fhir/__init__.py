"""FHIR R4 (4.0.1): a patient's record out as a standard Bundle, and other systems' FHIR in."""
