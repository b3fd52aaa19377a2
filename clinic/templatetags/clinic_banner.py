"""`{% patient_banner %}`: the patient banner (clinic.banner) on a page about one patient.

A tag, as the dashboard's is, so each app's page template asks for the banner without its code
importing `clinic` (which sits above the apps). The page says whom it is about by what Django's
change form already holds: the patient itself, the record's patient, or the patient chosen on an
add form (`?patient=<id>`, or the posted value). A supervisor who opened a note only to co-sign
it gets no banner; the access policy refuses it anyway.
"""

from django import template

from clinic import banner as banners

register = template.Library()


def _patient_id(context):
    """Return the id of the patient the change form is about, or None."""
    opts, original = context.get("opts"), context.get("original")
    if opts is not None and opts.label == "patients.Patient":
        return getattr(original, "pk", None)
    if original is not None and getattr(original, "pk", None) and hasattr(original, "patient_id"):
        return original.patient_id
    form = getattr(context.get("adminform"), "form", None)
    if form is not None and "patient" in form.fields:
        return form["patient"].value()
    return None


@register.inclusion_tag("clinic/patient_banner.html", takes_context=True)
def patient_banner(context):
    """Render the banner of the page's patient, for the signed-in user (nothing if they may not see it)."""
    request = context.get("request")
    if request is None or getattr(request, "_novamind_cosigning_only", False):
        return {"banner": None}
    opts = context.get("opts")
    on_patient_page = opts is not None and opts.label == "patients.Patient"
    banner = banners.build(user=request.user, patient_id=_patient_id(context), on_patient_page=on_patient_page)
    if banner is not None and context.get("add"):
        # A change page logs its own view of the record; an add form shows the patient here only.
        banners.record_view(
            user=request.user,
            banner=banner,
            request=request,
            detail=f"patient banner on the add {opts.verbose_name} form",
        )
    return {"banner": banner, "request": request}
