"""Every history page's trail reads Home › the app › the model's list › the record › History (› the version).

Enumerated from the admin site, so a new admin with history is checked without being named here.
"""

import re

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from clinic.tests.integration import walk_support as walk

HISTORY_ADMINS = [
    pytest.param(model_admin, id=model._meta.label)
    for model, model_admin in admin.site._registry.items()
    if isinstance(model_admin, SimpleHistoryAdmin) and hasattr(model, "history")
]


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """Return the walked clinic (one record of every kind), rolled back after the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield walk.build_clinic()
        transaction.set_rollback(True)


def trail(response) -> list[tuple[str, str | None]]:
    """Return the page's breadcrumbs: each step's text and link (None for the last, unlinked, one)."""
    html = response.content.decode()
    block = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
    steps = []
    for part in block.split("&rsaquo;"):
        link = re.search(r'href="([^"]*)"', part)
        text = " ".join(re.sub(r"<[^>]+>", " ", part).split())
        steps.append((text, link.group(1) if link else None))
    return steps


def expected(model_admin, obj):
    opts = model_admin.model._meta
    return [
        ("Home", reverse("admin:index")),
        (str(opts.app_config.verbose_name), reverse("admin:app_list", args=[opts.app_label])),
        (capfirst(str(opts.verbose_name_plural)), reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")),
        (str(obj), reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("model_admin", HISTORY_ADMINS)
def test_history_pages_name_the_app_the_list_the_record_and_the_version(clinic, model_admin):
    root = clinic.users[walk.SUPERUSER]
    request = RequestFactory().get("/")
    request.user = root
    obj = model_admin.get_queryset(request).order_by("pk").first()
    assert obj is not None, f"the walked clinic has no {model_admin.model._meta.verbose_name}"
    opts = model_admin.model._meta
    history_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
    client = Client()
    client.force_login(root)

    listing = client.get(history_url)
    assert listing.status_code == 200
    assert trail(listing) == [*expected(model_admin, obj), ("History", None)]

    row = obj.history.order_by("-history_id").first()
    version = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, row.pk]))
    assert version.status_code == 200
    assert trail(version) == [*expected(model_admin, obj), ("History", history_url), (f"Version {row.version}", None)]
