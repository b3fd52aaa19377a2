"""`{% patient_measures %}`: the patient page's charts of questionnaire scores and measures due (clinic.measures).

A tag, as the banner's is, so the patient page's template asks for the panel without the patients
app importing `clinic` (which sits above the apps). Shown on a saved patient's page only, to a
user who may see the patient's questionnaire responses.
"""

from django import template

from clinic import measures

register = template.Library()


@register.inclusion_tag("clinic/patient_measures.html", takes_context=True)
def patient_measures(context):
    """Render the measures of the page's patient, for the signed-in user (nothing if they may not see them)."""
    request, opts, patient = context.get("request"), context.get("opts"), context.get("original")
    if request is None or opts is None or opts.label != "patients.Patient" or getattr(patient, "pk", None) is None:
        return {"measures": None}
    return {"measures": measures.panel(user=request.user, patient=patient, request=request), "request": request}
