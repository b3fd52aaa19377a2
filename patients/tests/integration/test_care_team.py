"""Care teams in the admin: the front desk assigns and ends care; clinicians cannot assign themselves."""

import datetime as dt

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse

from clinical_notes.tests.factories import make_clinician
from conftest import make_staff
from novamind import roles, signals
from novamind.models import AccessLogEntry
from patients import domain, models, policy, repository

pytestmark = pytest.mark.django_db

ADD = reverse("admin:patients_careassignment_add")
LIST = reverse("admin:patients_careassignment_changelist")


def member(username, role, clinician=False):
    user = make_clinician(username) if clinician else make_staff(username, permissions=())
    root = make_staff(f"root-{username}", superuser=True)
    with signals.changed_by(root):
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def patient(db):
    root = make_staff("root", superuser=True)
    return repository.DjangoPatientRepository(actor=root).add(
        domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    )


def test_the_front_desk_puts_a_clinician_on_the_care_team_in_the_admin(client, patient):
    desk = member("frontdesk", roles.FRONT_DESK)
    doctor = member("drpatel", roles.CLINICIAN, clinician=True)
    client.force_login(desk)
    form = client.get(ADD, {"patient": str(patient.id)})
    assert form.status_code == 200
    assert [user.pk for user in form.context["adminform"].form.fields["clinician"].queryset] == [doctor.pk]
    response = client.post(ADD, {"patient": str(patient.id), "clinician": str(doctor.pk)})
    assert response.status_code == 302, response.content.decode()[:2000]
    assignment = models.CareAssignment.objects.get()
    assert (assignment.patient_id, assignment.clinician, assignment.created_by) == (patient.id, doctor, desk)
    assert assignment.history.get().history_user == desk
    assert policy.may_see(doctor, patient.id)
    assert AccessLogEntry.objects.filter(action="care assigned", user=desk).count() == 1


def test_a_front_desk_user_cannot_be_put_on_a_care_team(client, patient):
    desk = member("frontdesk", roles.FRONT_DESK)
    client.force_login(desk)
    response = client.post(ADD, {"patient": str(patient.id), "clinician": str(desk.pk)})
    assert response.status_code == 200 and "clinician" in response.context["adminform"].form.errors
    assert not models.CareAssignment.objects.exists()


def test_a_clinician_cannot_open_the_assignment_form_or_post_it(client, patient):
    doctor = member("drpatel", roles.CLINICIAN, clinician=True)
    client.force_login(doctor)
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"patient": str(patient.id), "clinician": str(doctor.pk)}).status_code == 403
    assert not models.CareAssignment.objects.exists() and not policy.may_see(doctor, patient.id)


def test_ending_care_from_the_list_closes_the_record_to_the_clinician(client, patient):
    desk = member("frontdesk", roles.FRONT_DESK)
    doctor = member("drpatel", roles.CLINICIAN, clinician=True)
    client.force_login(desk)
    client.post(ADD, {"patient": str(patient.id), "clinician": str(doctor.pk)})
    assignment = models.CareAssignment.objects.get()
    response = client.post(LIST, {"action": "end_care", "_selected_action": [str(assignment.pk)]})
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.ended_at is not None and assignment.updated_by == desk
    assert not policy.may_see(doctor, patient.id)


def test_a_clinician_sees_only_the_care_teams_of_their_own_patients(client, patient):
    desk = member("frontdesk", roles.FRONT_DESK)
    doctor = member("drpatel", roles.CLINICIAN, clinician=True)
    colleague = member("msmith", roles.CLINICIAN, clinician=True)
    other = repository.DjangoPatientRepository(actor=desk).add(
        domain.Patient(legal_first_name="Sam", legal_last_name="Quist", date_of_birth=dt.date(1980, 1, 2))
    )
    client.force_login(desk)
    client.post(ADD, {"patient": str(patient.id), "clinician": str(doctor.pk)})
    client.post(ADD, {"patient": str(other.id), "clinician": str(colleague.pk)})
    client.force_login(doctor)
    listing = client.get(LIST)
    assert listing.status_code == 200
    assert [row.patient_id for row in listing.context["cl"].result_list] == [patient.id]
    page = client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    # The listing's heading, as staff see it (the lower-case name was only in the inline script's data).
    assert "Care team" in page.content.decode() and "drpatel" in page.content.decode()


@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.CLINICIAN])
def test_a_care_assignment_is_never_reverted_from_its_history(client, patient, role):
    desk = member("frontdesk", roles.FRONT_DESK)
    doctor = member("drpatel", roles.CLINICIAN, clinician=True)
    client.force_login(desk)
    client.post(ADD, {"patient": str(patient.id), "clinician": str(doctor.pk)})
    assignment = models.CareAssignment.objects.get()
    version = assignment.history.get()
    client.force_login(desk if role == roles.FRONT_DESK else doctor)
    url = reverse("admin:patients_careassignment_simple_history", args=[assignment.pk, version.history_id])
    response = client.post(url, {"patient": str(patient.id), "clinician": str(doctor.pk)})
    assert response.status_code == 403
    assert assignment.history.count() == 1
    assert not LogEntry.objects.filter(object_id=str(assignment.pk), action_flag=CHANGE).exists()
