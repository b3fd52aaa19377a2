"""The kernel's admin saves nothing itself: an admin that forgets to call its app's service fails loudly."""

import pytest
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from novamind.admin import AuditedAdmin
from novamind.models import StaffProfile


class ForgetfulAdmin(AuditedAdmin):
    """An admin with no save_model of its own."""


def test_an_admin_without_its_own_save_model_refuses_to_save_and_names_itself():
    request = RequestFactory().post("/")
    with pytest.raises(ImproperlyConfigured, match="ForgetfulAdmin.*write through the app's services"):
        ForgetfulAdmin(StaffProfile, admin.site).save_model(request, StaffProfile(), None, False)
