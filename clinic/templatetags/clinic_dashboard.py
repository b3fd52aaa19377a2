"""Template tags of the admin index: `{% clinic_dashboard as board %}` puts the dashboard in the page.

A tag rather than a custom AdminSite keeps `admin.site` the stock one (other modules register on
it and extend its login); the index template asks for the panels of whoever is signed in.
"""

from django import template

from clinic import dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def clinic_dashboard(context):
    """Return the dashboard the signed-in user may see (see `clinic.dashboard.for_user`)."""
    request = context["request"]
    return dashboard.for_user(request.user, request=request)
