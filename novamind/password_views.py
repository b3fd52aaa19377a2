"""The admin's "Change password" page, which also clears the mark a password reset leaves.

After someone else reset a user's password (novamind.staff.staff_password_reset), the user is
kept on this page (novamind.middleware.TwoFactorMiddleware) until they choose a password of
their own, different from the one they were given; then two-factor enrolment follows.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.urls import reverse

from novamind import staff


class OwnPasswordChangeForm(AdminPasswordChangeForm):
    """Change one's own password (the current one asked first); a reset's mark is cleared on save."""

    request = None

    def clean_new_password1(self):
        password = self.cleaned_data.get("new_password1")
        if password and self.user.check_password(password):
            raise ValidationError("Choose a new password, different from the current one.", code="password_unchanged")
        return password

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            staff.staff_password_changed(user=user, request=self.request)
        return user


class OwnPasswordChangeView(PasswordChangeView):
    form_class = OwnPasswordChangeForm

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.request = self.request
        return form


def password_change(request):
    """Django admin's own password change page, with OwnPasswordChangeForm."""
    request.current_app = admin.site.name
    return OwnPasswordChangeView.as_view(
        success_url=reverse("admin:password_change_done"),
        template_name=admin.site.password_change_template or "registration/password_change_form.html",
        extra_context=admin.site.each_context(request),
    )(request)


password_change = admin.site.admin_view(password_change)
