"""Code systems, identifier systems and status maps that FHIR export and import share."""
