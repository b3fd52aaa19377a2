from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "NovaMind clinic administration"
admin.site.site_title = "NovaMind"
admin.site.index_title = "Clinic back-office"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]
