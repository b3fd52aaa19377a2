from django.apps import AppConfig


class FhirConfig(AppConfig):
    """FHIR R4 export and import: the record as a standard Bundle, and other systems' resources in.

    It sits above clinic (the export reuses clinic's record gathering) and may import every entity
    app; nothing imports it back.
    """

    name = "fhir"
    verbose_name = "FHIR"

    def ready(self):
        # clinic may not import fhir (the layers): the FHIR writer joins the record export from here.
        from clinic import record_export
        from fhir import checks, export  # noqa: F401  (checks registers the system checks)

        record_export.register_writer(
            export.FORMAT, export.write_bundle, media_type=export.MEDIA_TYPE, extension=export.EXTENSION
        )
