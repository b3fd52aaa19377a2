"""Care-restricted access and emergency ("break the glass") access: granted with a reason, time-limited, flagged, reviewed."""

import datetime as dt
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from clinical_notes.tests.factories import drafted, make_clinician
from conftest import assign_care, make_staff
from novamind import access, roles, signals
from novamind.domain import RuleViolation
from novamind.models import AccessLogEntry
from patients import domain, models, policy, repository, services

pytestmark = pytest.mark.django_db

User = get_user_model()
REASON = "Patient in crisis at the front desk; their clinician is on leave today."


def give_role(user, role):
    with signals.changed_by(
        make_staff("office", superuser=True)
        if not User.objects.filter(username="office").exists()
        else User.objects.get(username="office")
    ):
        user.groups.add(Group.objects.get(name=role))


def register(actor, first, last):
    return repository.DjangoPatientRepository(actor=actor).add(
        domain.Patient(
            legal_first_name=first,
            legal_last_name=last,
            date_of_birth=dt.date(1990, 5, 17),
        )
    )


@pytest.fixture
def clinician(db):
    user = make_clinician("drpatel")
    give_role(user, roles.CLINICIAN)
    return user


@pytest.fixture
def colleague(db):
    return make_clinician("msmith")


@pytest.fixture
def treated(clinician):
    patient = register(clinician, "Robin", "Okafor")
    assign_care(patient, clinician)
    drafted(clinician, patient)
    return patient


@pytest.fixture
def stranger(colleague):
    patient = register(colleague, "Sam", "Quist")
    assign_care(patient, colleague)
    drafted(colleague, patient)
    return patient


@pytest.fixture
def doctor(client, clinician):
    client.force_login(clinician)
    return client


def change_url(patient):
    return reverse("admin:patients_patient_change", args=[patient.id])


def glass_url(patient):
    return reverse("admin:patients_patient_emergency_access", args=[patient.id])


def later(minutes):
    moment = timezone.now() + dt.timedelta(minutes=minutes)
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_a_clinician_sees_only_the_patients_they_treat(doctor, treated, stranger):
    listing = doctor.get(reverse("admin:patients_patient_changelist"))
    assert listing.status_code == 200
    assert [row.pk for row in listing.context["cl"].result_list] == [treated.id]
    searched = doctor.get(reverse("admin:patients_patient_changelist"), {"q": stranger.mrn})
    assert searched.context["cl"].result_count == 0
    by_name = doctor.get(reverse("admin:patients_patient_changelist"), {"q": "Sam Quist"})
    assert by_name.context["cl"].result_count == 0
    assert doctor.get(change_url(treated)).status_code == 200
    notes = doctor.get(reverse("admin:clinical_notes_clinicalnote_changelist"))
    assert {note.patient_id for note in notes.context["cl"].result_list} == {treated.id}


def test_a_patient_outside_their_care_shows_the_break_the_glass_page_not_the_record(doctor, stranger):
    page = doctor.get(change_url(stranger))
    body = page.content.decode()
    assert page.status_code == 403 and "Break the glass" in body and "not in your care" in body
    assert "Quist" not in body
    refused = AccessLogEntry.objects.filter(patient_id=stranger.id, outcome=access.REFUSED)
    assert refused.count() == 1
    stranger_note = models.Patient.objects.get(pk=stranger.id).clinical_notes.get()
    assert doctor.get(reverse("admin:clinical_notes_clinicalnote_change", args=[stranger_note.pk])).status_code == 404
    assert doctor.get(reverse("admin:patients_patient_history", args=[stranger.id])).status_code == 404
    assert doctor.get(reverse("admin:patients_patient_change", args=["not-a-uuid"])).status_code == 404


def test_a_grant_without_a_real_reason_is_refused(doctor, clinician, stranger):
    response = doctor.post(glass_url(stranger), {"reason": "  "})
    assert response.status_code == 403 and "reason" in response.context["form"].errors
    response = doctor.post(glass_url(stranger), {"reason": "urgent"})
    assert "reason" in response.context["form"].errors
    with pytest.raises(RuleViolation):
        services.emergency_access_grant(patient_id=stranger.id, reason="x", actor=clinician)
    assert not models.EmergencyAccessGrant.objects.exists()
    assert not policy.may_see(clinician, stranger.id)


def test_a_grant_opens_the_record_and_flags_everything_done_under_it(doctor, clinician, treated, stranger):
    response = doctor.post(glass_url(stranger), {"reason": REASON})
    assert response.status_code == 302 and response["Location"] == change_url(stranger)
    grant = models.EmergencyAccessGrant.objects.get()
    assert grant.user == clinician and grant.patient_id == stranger.id and grant.reason == REASON
    assert grant.expires_at - grant.granted_at == dt.timedelta(minutes=60)
    granted = AccessLogEntry.objects.get(action=policy.GRANT_ACTION)
    assert granted.emergency and granted.patient_id == stranger.id

    page = doctor.get(change_url(stranger))
    assert page.status_code == 200 and "Quist" in page.content.decode()
    viewed = AccessLogEntry.objects.filter(patient_id=stranger.id, action="view", outcome=access.GRANTED)
    assert viewed.count() == 1 and viewed.get().emergency
    doctor.get(change_url(treated))
    own = AccessLogEntry.objects.get(patient_id=treated.id, action="view")
    assert not own.emergency


def test_the_grant_expires_by_itself(settings, doctor, clinician, stranger):
    settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES = 10  # under the session's idle limit (15 minutes)
    doctor.post(glass_url(stranger), {"reason": REASON})
    assert doctor.get(change_url(stranger)).status_code == 200
    with later(11):
        assert doctor.get(change_url(stranger)).status_code == 403
        assert not policy.may_see(clinician, stranger.id)
        listing = doctor.get(reverse("admin:patients_patient_changelist"))
        assert stranger.id not in [row.pk for row in listing.context["cl"].result_list]


def test_the_grant_duration_comes_from_the_environment_setting(settings, clinician, stranger):
    settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES = 15
    grant = services.emergency_access_grant(patient_id=stranger.id, reason=REASON, actor=clinician)
    assert grant.expires_at - grant.granted_at == dt.timedelta(minutes=15)


def test_the_front_desk_and_superusers_are_not_restricted(client, stranger):
    desk = make_staff("frontdesk")
    give_role(desk, roles.FRONT_DESK)
    boss = make_staff("boss", superuser=True)
    for user in (desk, boss):
        assert not policy.is_restricted(user) and policy.may_see(user, stranger.id)
        client.force_login(user)
        assert client.get(change_url(stranger)).status_code == 200


def test_the_review_list_shows_each_grant_with_its_access_count(settings, client, doctor, clinician, stranger):
    settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES = 10  # under the session's idle limit (15 minutes)
    doctor.post(glass_url(stranger), {"reason": REASON})
    doctor.get(change_url(stranger))
    doctor.get(change_url(stranger))
    auditor = make_staff("auditor", permissions=())
    give_role(auditor, roles.AUDITOR)
    client.force_login(auditor)
    url = reverse("admin:patients_emergencyaccessgrant_changelist")
    listing = client.get(url)
    assert listing.status_code == 200
    [row] = listing.context["cl"].result_list
    assert row.entries == 3  # the grant itself and two views of the record
    assert REASON in listing.content.decode()
    assert client.get(url, {"status": "active"}).context["cl"].result_count == 1
    assert client.get(url, {"status": "expired"}).context["cl"].result_count == 0
    with later(11):
        assert client.get(url, {"status": "expired"}).context["cl"].result_count == 1
    bare_clinician = make_staff("drno", permissions=())
    give_role(bare_clinician, roles.CLINICIAN)
    client.force_login(bare_clinician)
    assert client.get(url).status_code == 403


# --- how care begins and ends (patients.policy) -------------------------------------------------


def test_writing_a_note_about_a_patient_does_not_put_its_author_on_the_care_team(clinician, stranger):
    from novamind.domain import AccessDenied

    with pytest.raises(AccessDenied):  # outside one's care the write itself is refused (clinical_notes.services)
        drafted(clinician, stranger)
    assert not policy.treats(clinician, stranger.id)
    assert not policy.may_see(clinician, stranger.id)


def test_care_assigned_by_the_front_desk_opens_the_record_until_it_ends(doctor, clinician, stranger):
    desk = make_staff("frontdesk", permissions=())
    give_role(desk, roles.FRONT_DESK)
    assert doctor.get(change_url(stranger)).status_code == 403
    assignment = services.care_assign(patient_id=stranger.id, clinician=clinician, actor=desk)
    assert assignment.created_by == desk and assignment.history.get().history_user == desk
    assert AccessLogEntry.objects.filter(action="care assigned", patient_id=stranger.id, user=desk).count() == 1
    assert doctor.get(change_url(stranger)).status_code == 200
    services.care_end(assignment_id=assignment.id, actor=desk)
    assert not policy.may_see(clinician, stranger.id)
    assert doctor.get(change_url(stranger)).status_code == 403


def test_a_clinician_cannot_assign_care_to_themself_or_a_colleague(clinician, colleague, stranger, treated):
    from novamind.domain import AccessDenied

    with pytest.raises(AccessDenied):
        services.care_assign(patient_id=stranger.id, clinician=clinician, actor=clinician)
    give_role(colleague, roles.CLINICIAN)
    with pytest.raises(AccessDenied):
        services.care_assign(patient_id=treated.id, clinician=colleague, actor=clinician)
    assert not policy.may_see(clinician, stranger.id)


def test_only_clinicians_can_join_a_care_team(stranger):
    desk = make_staff("frontdesk", permissions=())
    give_role(desk, roles.FRONT_DESK)
    with pytest.raises(RuleViolation):
        services.care_assign(patient_id=stranger.id, clinician=desk, actor=desk)


def test_require_asks_the_role_and_then_care(clinician, treated, stranger):
    from novamind.domain import AccessDenied

    policy.require(clinician, "clinical_notes.add_clinicalnote", patient_id=treated.id)
    with pytest.raises(AccessDenied):
        policy.require(clinician, "clinical_notes.add_clinicalnote", patient_id=stranger.id)
    with pytest.raises(AccessDenied):
        policy.require(clinician, "auth.add_user", patient_id=treated.id)
    with pytest.raises(AccessDenied):
        policy.require(clinician, patient_id="not-a-uuid")
