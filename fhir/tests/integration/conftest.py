"""The record export's own chart (clinic's tests): one patient with every kind of record, and canaries."""

from clinic.tests.integration.test_export_patient_record import chart, operator  # noqa: F401
