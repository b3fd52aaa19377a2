"""Roles cannot be raised from inside (issue 14, finding 4): the staff rule on every path.

Only a superuser gives clinical roles and Auditor; nobody changes their own roles; a practice
admin resets the password of non-clinical staff only, and a reset forces a new password and a
new two-factor enrolment. The rule is novamind.staff; the admin, the m2m signal and the
services all ask it.
"""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import STAFF_PASSWORD
from novamind import mfa, roles, signals, staff
from novamind.models import AccessLogEntry, StaffProfile
from novamind.tests.integration.role_users import member, superuser

pytestmark = pytest.mark.django_db

CLINICIAN_PROFILE = {"credentials": "PhD", "is_clinician": True}


def group(name):
    return Group.objects.get(name=name)


def role_names(user):
    return set(get_user_model().objects.get(pk=user.pk).groups.values_list("name", flat=True))


def account_form(user, *, groups, **changes):
    """Return the POST data of `user`'s change page, with `groups` (role names) and `changes`."""
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "groups": [group(name).pk for name in groups],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value != ""}


def post_account(client, user, **kwargs):
    return client.post(reverse("admin:auth_user_change", args=[user.pk]), account_form(user, **kwargs))


@pytest.fixture
def office(client):
    """A practice admin, signed in."""
    user = member("office", roles.PRACTICE_ADMIN)
    client.force_login(user)
    return user


# --- roles in the admin ------------------------------------------------------------------------


def test_a_practice_admin_cannot_give_itself_the_prescriber_role(client, office):
    response = post_account(client, office, groups=[roles.PRACTICE_ADMIN, roles.PRESCRIBER])
    assert response.status_code == 200
    assert "You cannot assign the role Prescriber" in str(response.context["adminform"].form.errors["groups"])
    assert role_names(office) == {roles.PRACTICE_ADMIN}
    refused = AccessLogEntry.objects.get(action=staff.ROLE_CHANGE, outcome="refused")
    assert (refused.username, refused.object_id) == ("office", str(office.pk))


def test_a_practice_admin_cannot_give_a_front_desk_user_the_clinician_role(client, office):
    desk = member("felix", roles.FRONT_DESK)
    response = post_account(client, desk, groups=[roles.FRONT_DESK, roles.CLINICIAN])
    assert response.status_code == 200
    assert "You cannot assign the role Clinician" in str(response.context["adminform"].form.errors["groups"])
    assert role_names(desk) == {roles.FRONT_DESK}
    assert AccessLogEntry.objects.filter(action=staff.ROLE_CHANGE, outcome="refused").count() == 1
    assert not AccessLogEntry.objects.filter(action=staff.ROLE_CHANGE, username="office", outcome="granted").exists()


def test_the_groups_widget_offers_a_practice_admin_only_the_roles_it_may_give(client, office):
    hire = member("newhire")
    page = client.get(reverse("admin:auth_user_change", args=[hire.pk]))
    offered = {label for _, label in page.context["adminform"].form.fields["groups"].widget.widget.choices}
    assert offered == {roles.FRONT_DESK, roles.PRACTICE_ADMIN}
    html = page.content.decode()
    assert f'value="{group(roles.FRONT_DESK).pk}"' in html and f'value="{group(roles.PRESCRIBER).pk}"' not in html


def test_a_practice_admin_gives_a_new_hire_the_front_desk_role(client, office):
    hire = member("newhire")
    response = post_account(client, hire, groups=[roles.FRONT_DESK])
    assert response.status_code == 302, response.content.decode()[:2000]
    assert role_names(hire) == {roles.FRONT_DESK}
    entry = AccessLogEntry.objects.get(action=staff.ROLE_CHANGE, username="office", outcome="granted")
    assert (entry.username, entry.detail) == ("office", "newhire: added Front desk")


def test_a_practice_admin_cannot_remove_a_clinical_role_either(client, office):
    clinician = member("drwho", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    response = post_account(client, clinician, groups=[])
    assert "You cannot remove the role Clinician" in str(response.context["adminform"].form.errors["groups"])
    assert role_names(clinician) == {roles.CLINICIAN}


def test_a_practice_admin_cannot_change_its_own_roles(client, office):
    response = post_account(client, office, groups=[roles.PRACTICE_ADMIN, roles.FRONT_DESK])
    assert "nobody changes their own roles" in str(response.context["adminform"].form.errors["groups"])
    assert role_names(office) == {roles.PRACTICE_ADMIN}


def test_a_superuser_cannot_change_its_own_roles_or_flags(client):
    root = superuser()
    client.force_login(root)
    response = post_account(client, root, groups=[roles.AUDITOR], is_superuser="on", is_active="")
    errors = response.context["adminform"].form.errors
    assert "nobody changes their own roles" in str(errors["groups"])
    assert "your own account" in str(errors["is_active"])
    root.refresh_from_db()
    assert root.is_active and not root.groups.exists()


def test_a_superuser_gives_another_user_a_clinical_role(client):
    client.force_login(superuser())
    user = member("drwho")
    assert post_account(client, user, groups=[roles.CLINICIAN]).status_code == 302
    assert role_names(user) == {roles.CLINICIAN}


def test_a_practice_admin_cannot_deactivate_itself(client, office):
    response = post_account(client, office, groups=[roles.PRACTICE_ADMIN], is_active="")
    assert "your own account" in str(response.context["adminform"].form.errors["is_active"])
    office.refresh_from_db()
    assert office.is_active


def test_a_practice_admin_cannot_edit_a_groups_permissions_or_members(client, office):
    prescriber = group(roles.PRESCRIBER)
    url = reverse("admin:auth_group_change", args=[prescriber.pk])
    assert client.post(url, {"name": "Prescriber", "permissions": []}).status_code == 403
    assert prescriber.permissions.exists()


# --- roles outside the admin -------------------------------------------------------------------


def test_changed_by_refuses_a_practice_admin_raising_itself_or_others():
    office, desk = member("office", roles.PRACTICE_ADMIN), member("felix", roles.FRONT_DESK)
    with (
        pytest.raises(staff.StaffChangeRefused, match="role Prescriber"),
        transaction.atomic(),
        signals.changed_by(office),
    ):
        office.groups.add(group(roles.PRESCRIBER))
    with (
        pytest.raises(staff.StaffChangeRefused, match="role Clinician"),
        transaction.atomic(),
        signals.changed_by(office),
    ):
        group(roles.CLINICIAN).user_set.add(desk)
    with (
        pytest.raises(staff.StaffChangeRefused, match="own roles"),
        transaction.atomic(),
        signals.changed_by(superuser()),
    ):
        superuser().groups.add(group(roles.AUDITOR))
    assert role_names(office) == {roles.PRACTICE_ADMIN} and role_names(desk) == {roles.FRONT_DESK}
    with signals.changed_by(office):
        desk.groups.add(group(roles.PRACTICE_ADMIN))
    assert role_names(desk) == {roles.FRONT_DESK, roles.PRACTICE_ADMIN}


def test_staff_roles_set_checks_and_records_a_refusal():
    office, desk = member("office", roles.PRACTICE_ADMIN), member("felix", roles.FRONT_DESK)
    with pytest.raises(staff.StaffChangeRefused):
        staff.staff_roles_set(user=desk, roles=[roles.AUDITOR], actor=office)
    assert role_names(desk) == {roles.FRONT_DESK}
    refused = AccessLogEntry.objects.get(outcome="refused", action=staff.ROLE_CHANGE)
    assert "You cannot assign the role Auditor" in refused.detail and "remove the role Front desk" not in refused.detail
    staff.staff_roles_set(user=desk, roles=[roles.PRACTICE_ADMIN], actor=office)
    assert role_names(desk) == {roles.PRACTICE_ADMIN}


# --- password resets ---------------------------------------------------------------------------


def reset_url(user):
    return reverse("admin:auth_user_password_change", args=[user.pk])


NEW = {
    "password1": "a fresh temporary passphrase",
    "password2": "a fresh temporary passphrase",
    "usable_password": "true",
}


def test_a_practice_admin_cannot_reset_a_clinicians_password(client, office):
    clinician = member("drwho", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    clinician.set_password(STAFF_PASSWORD)
    clinician.save()
    assert client.get(reset_url(clinician)).status_code == 403
    assert client.post(reset_url(clinician), NEW).status_code == 403
    clinician.refresh_from_db()
    assert clinician.check_password(STAFF_PASSWORD)
    assert AccessLogEntry.objects.filter(action=staff.PASSWORD_RESET, outcome="refused").count() == 2


def test_a_practice_admin_cannot_reset_an_auditors_password(client, office):
    assert client.get(reset_url(member("avery", roles.AUDITOR))).status_code == 403


def test_nobody_resets_their_own_password_on_the_reset_page(client, office):
    response = client.post(reset_url(office), NEW)
    assert response.status_code == 302 and response["Location"] == reverse("admin:password_change")
    office.refresh_from_db()
    assert not office.check_password(NEW["password1"])


def test_a_reset_of_front_desk_forces_a_new_password_then_a_new_enrolment(client, office, settings):
    desk = member("felix", roles.FRONT_DESK)
    TOTPDevice.objects.create(user=desk, name=mfa.AUTHENTICATOR_NAME, confirmed=True)
    mfa.replace_recovery_codes(desk)
    response = client.post(reset_url(desk), NEW)
    assert response.status_code == 302, response.content.decode()[:1500]
    desk.refresh_from_db()
    assert desk.check_password(NEW["password1"])
    assert not TOTPDevice.objects.filter(user=desk).exists() and not StaticDevice.objects.filter(user=desk).exists()
    assert StaffProfile.objects.get(user=desk).must_change_password
    entry = AccessLogEntry.objects.get(action=staff.PASSWORD_RESET)
    assert entry.username == "office" and NEW["password1"] not in entry.detail

    # felix signs in with the temporary password: first the password change, then enrolment.
    settings.NOVAMIND_REQUIRE_TWO_FACTOR = True
    client.logout()
    signed_in = client.post(reverse("admin:login"), {"username": "felix", "password": NEW["password1"]})
    assert signed_in.status_code == 302
    first = client.get("/admin/")
    assert first.status_code == 302 and first["Location"] == reverse("admin:password_change")
    assert client.get(reverse("two-factor-enrol"))["Location"] == reverse("admin:password_change")
    same = {"old_password": NEW["password1"], "new_password1": NEW["password1"], "new_password2": NEW["password1"]}
    assert "different from the current one" in client.post(reverse("admin:password_change"), same).content.decode()
    mine = "felix chooses his own passphrase"
    changed = client.post(
        reverse("admin:password_change"),
        {"old_password": NEW["password1"], "new_password1": mine, "new_password2": mine},
    )
    assert changed.status_code == 302, changed.content.decode()[:1500]
    assert not StaffProfile.objects.get(user=desk).must_change_password
    assert client.get("/admin/")["Location"].startswith(reverse("two-factor-enrol"))


def test_the_reset_mark_is_attributed_in_the_profile_history(office):
    desk = member("felix", roles.FRONT_DESK)
    staff.staff_password_reset(user=desk, actor=office, password="another temporary passphrase")
    history = StaffProfile.history.filter(user=desk).order_by("history_date").last()
    assert history.history_user == office and history.history_change_reason == staff.PASSWORD_RESET


def test_staff_password_reset_refuses_a_clinician_on_the_service_path(office):
    clinician = member("drwho", roles.CLINICIAN)
    with pytest.raises(staff.StaffChangeRefused):
        staff.staff_password_reset(user=clinician, actor=office, password="another temporary passphrase")
    assert not StaffProfile.objects.filter(user=clinician).exists()


# --- the staff profile's qualification ---------------------------------------------------------


def profile_form(profile, **changes):
    form = {
        "user": profile.user_id,
        "credentials": profile.credentials,
        "is_clinician": "on" if profile.is_clinician else "",
        "is_prescriber": "on" if profile.is_prescriber else "",
        "is_supervisor": "on" if profile.is_supervisor else "",
        "dea_number": profile.dea_number,
        "version": profile.version,
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value != ""}


def test_a_practice_admin_cannot_make_anyone_a_prescriber_through_the_profile(client, office):
    desk = member("felix", roles.FRONT_DESK, profile={"credentials": "BA"})
    profile = StaffProfile.objects.get(user=desk)
    url = reverse("admin:novamind_staffprofile_change", args=[profile.pk])
    form = profile_form(profile, credentials="MA", is_clinician="on", is_prescriber="on", dea_number="BL1234563")
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:1500]  # the flags are read-only for office
    profile.refresh_from_db()
    assert (profile.credentials, profile.is_clinician, profile.is_prescriber, profile.dea_number) == (
        "MA",
        False,
        False,
        "",
    )


def test_a_practice_admin_cannot_change_a_clinicians_profile(client, office):
    clinician = member("drwho", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    profile = StaffProfile.objects.get(user=clinician)
    url = reverse("admin:novamind_staffprofile_change", args=[profile.pk])
    assert client.post(url, profile_form(profile, credentials="MD")).status_code == 403
    profile.refresh_from_db()
    assert profile.credentials == "PhD"


def test_the_profile_service_refuses_a_practice_admins_qualification_and_a_superusers_own():
    office = member("office", roles.PRACTICE_ADMIN)
    desk = member("felix", roles.FRONT_DESK, profile={"credentials": "BA"})
    profile = StaffProfile.objects.get(user=desk)
    profile.is_clinician = True
    with pytest.raises(staff.StaffChangeRefused, match="Only a superuser changes a qualification"):
        staff.staff_profile_save(profile=profile, actor=office)
    root = superuser()
    own = StaffProfile(user=root, is_clinician=True)
    with pytest.raises(staff.StaffChangeRefused, match="own qualifications"):
        staff.staff_profile_save(profile=own, actor=root)
    staff.staff_profile_save(profile=profile, actor=root)
    assert StaffProfile.objects.get(user=desk).is_clinician


# --- commands ----------------------------------------------------------------------------------


def test_seed_demo_gives_roles_and_resets_passwords_through_the_staff_rule():
    call_command("seed_demo", "--patients", "0", stdout=io.StringIO())
    assert not StaffProfile.objects.filter(must_change_password=True).exists()
    call_command("seed_demo", "--patients", "0", "--reset-passwords", stdout=io.StringIO())
    marked = set(StaffProfile.objects.filter(must_change_password=True).values_list("user__username", flat=True))
    assert marked == {"frontdesk", "drlee", "drpatel", "msmith", "office", "auditor"}
    resets = AccessLogEntry.objects.filter(action=staff.PASSWORD_RESET, outcome="granted")
    assert set(resets.values_list("username", flat=True)) == {"admin"} and resets.count() == 6
