"""Issue 17, finding 1: a supervisor asked to co-sign opens that note, finds it in a queue, and
the author is not offered a second request while one is pending.

The supervisor here holds the Clinician and Supervisor roles (care roles), so outside the care
team they see no patient; the author's request is the one, narrow, audited way to that one note.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import repository as appointments_repository
from clinical_notes import domain, models, selectors, services
from clinical_notes.tests.factories import new_note, soap
from conftest import assign_care
from novamind import access, roles
from novamind.domain import AccessDenied, RuleViolation
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member
from patients import domain as patients_domain
from patients import repository as patients_repository
from patients.models import Patient

pytestmark = pytest.mark.django_db

CLINICIAN_PROFILE = {"is_clinician": True}
SUPERVISOR_PROFILE = {"is_clinician": True, "is_supervisor": True}
BODY = "Reviewed the safety plan together."


def register(name, by):
    return patients_repository.DjangoPatientRepository(actor=by).add(
        patients_domain.Patient(legal_first_name=name, legal_last_name="Doe", date_of_birth=dt.date(1980, 1, 2))
    )


@pytest.fixture
def clinic():
    """An author treating one patient, and a supervisor who is on nobody's care team."""
    frontdesk = member("frontdesk", roles.FRONT_DESK)
    author = member("msmith", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    supervisor = member("drlee", roles.CLINICIAN, roles.SUPERVISOR, profile=SUPERVISOR_PROFILE)
    other_supervisor = member("drchen", roles.CLINICIAN, roles.SUPERVISOR, profile=SUPERVISOR_PROFILE)
    patient = register("Robin", frontdesk)
    assign_care(patient, author, by=frontdesk)

    class Clinic:
        pass

    clinic = Clinic()
    clinic.__dict__.update(
        frontdesk=frontdesk,
        author=author,
        supervisor=supervisor,
        other_supervisor=other_supervisor,
        patient=patient,
    )
    return clinic


def signed_note(clinic, *, days_ago=0, **options):
    note = services.note_create(
        note=new_note(clinic.author, clinic.patient, days_ago=days_ago, sections=soap(plan=BODY), **options),
        actor=clinic.author,
    )
    return services.note_sign(note_id=note.id, actor=clinic.author)


def requested(clinic, note, supervisor=None):
    services.cosignature_request(
        note_id=note.id, supervisor_id=(supervisor or clinic.supervisor).pk, actor=clinic.author
    )
    return note


def url(name, *args):
    return reverse(f"admin:clinical_notes_clinicalnote_{name}", args=args)


def first_history_id(note_id):
    return models.ClinicalNote.history.filter(id=note_id).order_by("history_id").first().history_id


def queue_url():
    return url("cosignature_queue")


# --- 1. the supervisor who was asked opens that note, and only that note --------------------------


def test_the_author_asks_a_supervisor_outside_the_care_team_who_then_opens_and_co_signs_the_note(client, clinic):
    note = signed_note(clinic)
    client.force_login(clinic.author)
    form = client.get(url("request_cosignature", note.id)).context["form"]
    assert clinic.supervisor in form.fields["cosign_requested_from"].queryset  # offered, though not in care
    response = client.post(url("request_cosignature", note.id), {"cosign_requested_from": clinic.supervisor.pk})
    assert response.status_code == 302

    client.force_login(clinic.supervisor)
    page = client.get(url("change", note.id))
    assert page.status_code == 200
    assert BODY in page.content.decode()
    assert page.context["has_change_permission"] is False  # read-only, as signed notes are
    assert url("cosign", note.id) in page.content.decode()
    # Nothing on the page leads to what the request does not open.
    assert url("addendum", note.id) not in page.content.decode()
    assert reverse("admin:patients_patient_change", args=[clinic.patient.id]) not in page.content.decode()
    assert client.get(url("history", note.id)).status_code == 200
    assert client.get(url("simple_history", note.id, first_history_id(note.id))).status_code == 200
    assert client.get(url("cosign", note.id)).status_code == 200
    response = client.post(url("cosign", note.id), {}, follow=True)
    # Back to the queue: the note itself is closed to them once co-signed.
    assert response.redirect_chain == [(queue_url(), 302)] and response.status_code == 200
    assert "Note co-signed." in [str(message) for message in response.context["messages"]]
    row = models.ClinicalNote.objects.get(pk=note.id)
    assert row.cosigned_by == clinic.supervisor and row.history.first().history_user == clinic.supervisor


def test_a_read_for_co_signature_is_in_the_access_log_and_says_so(client, clinic):
    note = requested(clinic, signed_note(clinic))
    client.force_login(clinic.supervisor)
    client.get(url("change", note.id))
    entry = AccessLogEntry.objects.filter(user=clinic.supervisor, action="read").get()
    assert entry.outcome == access.GRANTED and entry.object_id == str(note.id)
    assert entry.category == "clinical_note" and entry.patient_id == clinic.patient.id
    assert "co-signature" in entry.detail


def test_the_request_itself_is_in_the_access_log_naming_the_supervisor(clinic):
    note = requested(clinic, signed_note(clinic))
    entry = AccessLogEntry.objects.filter(user=clinic.author, action="request co-signature").get()
    assert entry.object_id == str(note.id) and "drlee" in entry.detail


def test_the_request_opens_nothing_else_of_the_patient(client, clinic):
    note = requested(clinic, signed_note(clinic))
    other_note = signed_note(clinic, days_ago=1)
    appointment = appointments_repository.DjangoAppointmentRepository(actor=clinic.frontdesk).add(
        appointments_domain.Appointment(
            patient_id=clinic.patient.id,
            clinician_id=clinic.author.pk,
            start=timezone.now() + dt.timedelta(days=2),
            end=timezone.now() + dt.timedelta(days=2, minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
        )
    )
    client.force_login(clinic.supervisor)
    assert client.get(url("change", other_note.id)).status_code == 404
    assert client.get(url("history", other_note.id)).status_code == 404
    assert client.get(reverse("admin:patients_patient_change", args=[clinic.patient.id])).status_code == 403
    assert client.get(reverse("admin:appointments_appointment_change", args=[appointment.id])).status_code == 404
    # Nor does it let the supervisor do anything to the note but read and co-sign it.
    for tool in ("addendum", "request_cosignature", "withdraw_cosignature", "discard", "authorize"):
        assert client.get(url(tool, note.id)).status_code == 404, tool
        assert client.post(url(tool, note.id), {"text": "More.", "reason": "Late."}).status_code == 404, tool
    assert client.post(url("change", note.id), {"plan": "Changed"}).status_code == 404
    revert = url("simple_history", note.id, first_history_id(note.id))
    assert client.post(revert, {"plan": "Changed"}).status_code == 404
    assert not models.Addendum.objects.exists()
    assert models.ClinicalNote.objects.get(pk=note.id).version == 3  # drafted, signed, requested
    # The notes list holds that one note, not the patient's others.
    listing = client.get(reverse("admin:clinical_notes_clinicalnote_changelist"))
    assert [row.pk for row in listing.context["cl"].result_list] == [note.id]
    # The services agree: a command run as the supervisor reads it, and may not add to it.
    assert services.note_read(note_id=note.id, actor=clinic.supervisor).sections.plan == BODY
    with pytest.raises(AccessDenied):
        services.note_read(note_id=other_note.id, actor=clinic.supervisor)
    with pytest.raises(AccessDenied):
        services.addendum_add(note_id=note.id, text="More.", reason="Late.", actor=clinic.supervisor)


def test_only_the_supervisor_named_in_the_request_may_open_the_note(client, clinic):
    note = requested(clinic, signed_note(clinic))
    client.force_login(clinic.other_supervisor)
    assert client.get(url("change", note.id)).status_code == 404
    assert client.get(url("cosign", note.id)).status_code == 404
    with pytest.raises(AccessDenied):
        services.note_cosign(note_id=note.id, actor=clinic.other_supervisor)


def test_the_note_closes_again_once_co_signed(client, clinic):
    note = requested(clinic, signed_note(clinic))
    services.note_cosign(note_id=note.id, actor=clinic.supervisor)
    client.force_login(clinic.supervisor)
    assert client.get(url("change", note.id)).status_code == 404
    assert client.get(url("history", note.id)).status_code == 404


def test_the_note_closes_again_when_the_author_withdraws_the_request(client, clinic):
    note = requested(clinic, signed_note(clinic))
    client.force_login(clinic.author)
    assert url("withdraw_cosignature", note.id) in client.get(url("change", note.id)).content.decode()
    assert client.post(url("withdraw_cosignature", note.id), {}).status_code == 302
    row = models.ClinicalNote.objects.get(pk=note.id)
    assert row.cosign_requested_from_id is None and row.cosign_requested_at is None
    assert row.history.first().history_change_reason == "Co-signature request to drlee withdrawn"
    client.force_login(clinic.supervisor)
    assert client.get(url("change", note.id)).status_code == 404
    with pytest.raises(AccessDenied):
        services.note_cosign(note_id=note.id, actor=clinic.supervisor)


def test_the_note_closes_again_when_the_supervisor_loses_the_supervisor_role(client, clinic):
    from django.contrib.auth.models import Group

    from novamind import signals
    from novamind.tests.integration.role_users import superuser

    note = requested(clinic, signed_note(clinic))
    with signals.changed_by(superuser()):
        clinic.supervisor.groups.set([Group.objects.get(name=roles.CLINICIAN)])
    client.force_login(clinic.supervisor)
    assert client.get(url("change", note.id)).status_code == 404


def test_a_psychotherapy_note_is_never_sent_for_co_signature(clinic):
    note = signed_note(clinic, kind=domain.NoteKind.PSYCHOTHERAPY_NOTE)
    with pytest.raises(RuleViolation, match="not co-signed"):
        requested(clinic, note)


def test_a_draft_is_not_sent_for_co_signature_so_nobody_reads_a_text_that_may_still_change(client, clinic):
    draft = services.note_create(note=new_note(clinic.author, clinic.patient), actor=clinic.author)
    with pytest.raises(RuleViolation, match="Sign the note before"):
        requested(clinic, draft)
    client.force_login(clinic.supervisor)
    assert client.get(url("change", draft.id)).status_code == 404


# --- 2. the co-signature queue -------------------------------------------------------------------


def test_the_queue_lists_the_notes_waiting_for_my_co_signature_oldest_request_first(client, clinic):
    older = requested(clinic, signed_note(clinic, days_ago=3))
    newer = requested(clinic, signed_note(clinic, days_ago=1))
    done = requested(clinic, signed_note(clinic, days_ago=2))
    services.note_cosign(note_id=done.id, actor=clinic.supervisor)
    requested(clinic, signed_note(clinic), supervisor=clinic.other_supervisor)

    queue = selectors.notes_awaiting_cosignature(supervisor=clinic.supervisor)
    assert [item.note_id for item in queue.notes] == [older.id, newer.id] and queue.total == 2
    first = queue.notes[0]
    assert first.patient_mrn == Patient.objects.values_list("mrn", flat=True).get(pk=clinic.patient.id)
    assert (first.kind, first.author, first.date_of_service) == (
        domain.NoteKind.PROGRESS_NOTE,
        "msmith",
        timezone.localdate() - dt.timedelta(days=3),
    )
    assert first.waiting_since is not None

    client.force_login(clinic.supervisor)
    page = client.get(queue_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert first.patient_mrn in html and "msmith" in html and "Progress note" in html
    assert url("cosign", older.id) in html and url("change", newer.id) in html
    assert url("change", done.id) not in html
    assert BODY not in html
    entry = AccessLogEntry.objects.filter(user=clinic.supervisor, action="list").get()
    assert entry.category == "clinical_note" and "co-signature" in entry.detail


def test_the_queue_is_bounded_and_says_how_many_more_wait(client, clinic):
    for days_ago in range(3):
        requested(clinic, signed_note(clinic, days_ago=days_ago))
    queue = selectors.notes_awaiting_cosignature(supervisor=clinic.supervisor, limit=2)
    assert len(queue.notes) == 2 and queue.total == 3 and queue.more == 1


def test_the_queue_page_costs_the_same_queries_for_one_note_as_for_many(client, clinic):
    requested(clinic, signed_note(clinic))
    client.force_login(clinic.supervisor)
    client.get(queue_url())  # warm the caches a first request fills (content types, permissions)
    with CaptureQueriesContext(connection) as one:
        assert client.get(queue_url()).status_code == 200
    for days_ago in range(1, 6):
        requested(clinic, signed_note(clinic, days_ago=days_ago))
    with CaptureQueriesContext(connection) as many:
        page = client.get(queue_url())
    assert len(page.context["queue"].notes) == 6
    assert len(many) == len(one), [q["sql"] for q in many]


def test_the_queue_is_linked_from_the_notes_list_and_the_notes_page(client, clinic):
    note = requested(clinic, signed_note(clinic))
    client.force_login(clinic.supervisor)
    assert queue_url() in client.get(reverse("admin:clinical_notes_clinicalnote_changelist")).content.decode()
    assert queue_url() in client.get(url("change", note.id)).content.decode()


def test_the_queue_is_forbidden_to_staff_who_may_not_co_sign_and_the_refusal_is_logged(client, clinic):
    client.force_login(clinic.author)
    assert client.get(queue_url()).status_code == 403
    assert AccessLogEntry.objects.filter(user=clinic.author, outcome=access.REFUSED).exists()
    assert queue_url() not in client.get(reverse("admin:clinical_notes_clinicalnote_changelist")).content.decode()


# --- 3. no second request while one is pending -------------------------------------------------------


@pytest.fixture
def supervisors_in_care(clinic):
    """Both supervisors on the care team: these tests are about the request, not the delegation."""
    for supervisor in (clinic.supervisor, clinic.other_supervisor):
        assign_care(clinic.patient, supervisor, by=clinic.frontdesk)
    return clinic


def test_request_co_signature_is_not_offered_while_a_request_is_pending(client, clinic, supervisors_in_care):
    note = signed_note(clinic)
    client.force_login(clinic.author)
    assert url("request_cosignature", note.id) in client.get(url("change", note.id)).content.decode()
    requested(clinic, note)
    assert url("request_cosignature", note.id) not in client.get(url("change", note.id)).content.decode()


def test_a_second_request_posted_anyway_is_refused_with_a_clear_message_and_nothing_written(
    client, clinic, supervisors_in_care
):
    note = requested(clinic, signed_note(clinic))
    client.force_login(clinic.author)
    response = client.post(url("request_cosignature", note.id), {"cosign_requested_from": clinic.other_supervisor.pk})
    assert response.status_code == 200
    assert "already requested from drlee" in " ".join(response.context["form"].non_field_errors())
    row = models.ClinicalNote.objects.get(pk=note.id)
    assert row.cosign_requested_from == clinic.supervisor and row.version == 3
    with pytest.raises(RuleViolation, match="already requested from drlee"):
        requested(clinic, note, supervisor=clinic.other_supervisor)


def test_the_supervisors_index_lists_the_notes_waiting_for_their_cosignature(client, clinic):
    from clinic import dashboard

    note = requested(clinic, signed_note(clinic, days_ago=1))

    board = dashboard.for_user(clinic.supervisor)
    assert [waiting.note_id for waiting in board.cosignatures.notes] == [note.id]
    assert dashboard.for_user(clinic.other_supervisor).cosignatures.notes == ()
    client.force_login(clinic.supervisor)
    page = client.get(reverse("admin:index")).content.decode()
    link = reverse("admin:clinical_notes_clinicalnote_change", args=[note.id])
    assert 'id="dashboard-cosignatures"' in page and link in page
    assert client.get(link).status_code == 200  # the link opens, outside the patient's care
