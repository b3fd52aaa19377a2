from django.contrib import admin
from django.urls import path
from django.views import defaults
from django.views.generic import RedirectView

from novamind import error_views, mfa_views, password_views

admin.site.site_header = "NovaMind clinic administration"
admin.site.site_title = "NovaMind"
admin.site.index_title = "Clinic back-office"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Before admin.site.urls, which would otherwise claim these paths.
    path("admin/two-factor/", mfa_views.verify, name="two-factor-verify"),
    path("admin/two-factor/enrol/", mfa_views.enrol, name="two-factor-enrol"),
    path("admin/password_change/", password_views.password_change, name="password-change"),
    path("admin/", admin.site.urls),
]

# The admin's look for a bad, refused or missing request (novamind.error_views). The 500 page is
# Django's view: it renders 500.html with no context, so that page stands alone.
handler400 = error_views.bad_request
handler403 = error_views.permission_denied
handler404 = error_views.page_not_found
handler500 = defaults.server_error
