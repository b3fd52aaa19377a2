"""Bad, refused, missing and failed requests get the admin's look, a way back and no exception text."""

import uuid

import pytest
from django.template import loader
from django.test import override_settings
from django.urls import reverse

from conftest import make_staff
from novamind.tests.integration.error_urls import SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.urls("novamind.tests.integration.error_urls")]

HEADER = "NovaMind clinic administration"


@pytest.fixture(autouse=True)
def production():
    """As in production: DEBUG off, so Django shows the project's pages, not its debugging pages."""
    with override_settings(DEBUG=False):
        yield


def assert_styled(response, status):
    content = response.content.decode()
    assert response.status_code == status
    assert HEADER in content, "the admin's header"
    assert f'id="error-home" href="{reverse("admin:index")}"' in content, "a link to the admin's index"
    assert SECRET not in content and "Traceback" not in content, "no exception text"
    return content


def test_a_page_the_role_lacks_is_a_styled_403_with_the_users_apps_and_a_way_back(staff_client):
    came_from = "http://testserver/admin/patients/patient/"
    response = staff_client.get(reverse("admin:novamind_staffprofile_changelist"), HTTP_REFERER=came_from)
    content = assert_styled(response, 403)
    assert f'id="error-back" href="{came_from}"' in content
    assert 'id="nav-sidebar"' in content and reverse("admin:app_list", args=["patients"]) in content
    assert "does not give you access" in content


@pytest.mark.parametrize("path", ["/failing/refused-by-policy/", "/failing/refused-by-view/"])
def test_a_refusal_by_the_policy_or_a_view_is_the_styled_403(staff_client, path):
    assert_styled(staff_client.get(path), 403)


def test_a_way_back_is_offered_only_to_a_page_of_this_site(staff_client):
    content = assert_styled(staff_client.get("/failing/refused-by-view/", HTTP_REFERER="https://evil.example/"), 403)
    assert "error-back" not in content and "evil.example" not in content


def test_a_record_that_does_not_exist_is_a_styled_404_without_its_id(client):
    root = make_staff("root", superuser=True)
    client.force_login(root)
    missing = uuid.uuid4()
    response = client.get(reverse("admin:novamind_staffprofile_change", args=[missing]))
    content = assert_styled(response, 404)
    assert str(missing) not in content.split("<main", 1)[1], "the id only in the address, not on the page"
    assert assert_styled(client.get("/failing/missing/"), 404)


def test_an_unknown_address_is_a_styled_404_for_a_visitor_not_signed_in(client):
    content = assert_styled(client.get("/no/such/page/"), 404)
    assert 'id="nav-sidebar"' not in content


def test_an_unusable_address_is_a_styled_400_that_says_what_was_wrong(staff_client):
    response = staff_client.get(reverse("admin:patients_patient_changelist"), {"q": "a\x00b"})
    content = assert_styled(response, 400)
    assert "NUL character" in content


def test_a_suspicious_request_is_a_styled_400(staff_client):
    assert_styled(staff_client.get("/failing/suspicious/"), 400)


def test_a_server_error_is_a_styled_500_that_needs_no_database(staff_client):
    staff_client.raise_request_exception = False
    assert_styled(staff_client.get("/failing/broken/"), 500)
    # Django renders it with no context and no request: it must not need the user or the database.
    assert HEADER in loader.get_template("500.html").render()
