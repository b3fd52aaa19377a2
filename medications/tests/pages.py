"""Helpers for driving admin pages with the Django test client."""

from django.utils import timezone


def form_data(response) -> dict:
    """Return the POST data a browser would send back for the admin page in `response`, unchanged."""
    context = response.context
    forms = [context["adminform"].form]
    data = {}
    for inline in context.get("inline_admin_formsets", []):
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms.extend(inline.formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = value
    return data


def order_form(patient_id, **changes) -> dict:
    """Return the add-page POST data of a valid sertraline order for the patient."""
    return {
        "patient": str(patient_id),
        "drug_name": "sertraline",
        "rxnorm_code": "",
        "strength": "50 mg",
        "dose_form": "tablet",
        "dose_amount": "50",
        "dose_unit": "mg",
        "route": "oral",
        "frequency_kind": "once_daily",
        "frequency_interval": "",
        "prn_indication": "",
        "schedule": "none",
        "start_date": timezone.localdate().isoformat(),
        "end_date": "",
        "quantity": "30",
        "refills": "2",
        "instructions": "",
        "allergy_override_reason": "",
        "duplicate_override_reason": "",
        "version": "1",
        **changes,
    }


def errors_of(response) -> dict:
    """Return the field errors of the main admin form on `response`."""
    return response.context["adminform"].form.errors
