"""Psychotherapy notes: only the author sees the body, the listing or the history — superusers
included — unless an explicit, logged authorization exists; every refusal is recorded."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinical_notes import domain, models, services
from clinical_notes.tests.factories import notes_as, signed, soap
from novamind.domain import RuleViolation
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db

SECRET = "Process note: transference themes"
PSYCHOTHERAPY = domain.NoteKind.PSYCHOTHERAPY_NOTE


@pytest.fixture
def note(author, patient):
    """A signed psychotherapy note by `author`."""
    return signed(author, patient, kind=PSYCHOTHERAPY, sections=soap(subjective=SECRET))


def refusals(user, action):
    return AccessLogEntry.objects.filter(
        user=user,
        action=action,
        category="psychotherapy_note",
        outcome="refused",
    )


def urls(note_id):
    first = models.ClinicalNote.history.filter(id=note_id).order_by("history_id").first()
    return {
        "read": reverse("admin:clinical_notes_clinicalnote_change", args=[note_id]),
        "history": reverse("admin:clinical_notes_clinicalnote_history", args=[note_id]),
        "history entry": reverse("admin:clinical_notes_clinicalnote_simple_history", args=[note_id, first.history_id]),
    }


@pytest.mark.parametrize("who", ["superuser", "other_clinician", "supervisor"])
def test_no_one_but_the_author_sees_the_body_or_history_in_the_admin_and_each_refusal_is_logged(
    client, note, who, request
):
    intruder = request.getfixturevalue(who)
    client.force_login(intruder)
    for action, url in urls(note.id).items():
        response = client.get(url, follow=True)
        page = response.content.decode()
        assert SECRET not in page, (who, action)
        assert "can be read only by their author" in page, (who, action)
        logged = "read" if action == "read" else "history"
        assert refusals(intruder, logged).filter(object_id=str(note.id)).exists(), (who, action)
    assert refusals(intruder, "read").count() == 1 and refusals(intruder, "history").count() == 2


def test_the_author_reads_the_body_and_history_and_each_read_is_logged(client, author, note):
    client.force_login(author)
    pages = urls(note.id)
    assert SECRET in client.get(pages["read"]).content.decode()
    assert SECRET in client.get(pages["history entry"]).content.decode()
    history = client.get(pages["history"])
    assert history.status_code == 200 and len(history.context["page_obj"].object_list) == 2
    assert not AccessLogEntry.objects.filter(user=author, outcome="refused").exists()
    granted = AccessLogEntry.objects.filter(user=author, category="psychotherapy_note", outcome="granted")
    assert set(granted.values_list("action", flat=True)) >= {"read", "history"}


@pytest.mark.parametrize("who", ["superuser", "other_clinician"])
def test_the_psychotherapy_listing_shows_no_one_else_the_note_and_the_withholding_is_logged(
    client, note, patient, who, request
):
    intruder = request.getfixturevalue(who)
    client.force_login(intruder)
    changelist = reverse("admin:clinical_notes_clinicalnote_changelist")
    mine = client.get(changelist, {"record": "psychotherapy", "patient__id__exact": str(patient.id)})
    assert mine.status_code == 200 and mine.context["cl"].result_count == 0
    assert refusals(intruder, "list").filter(patient_id=patient.id).exists()
    general = client.get(changelist, {"kind__exact": "psychotherapy_note"})
    assert general.context["cl"].result_count == 0

    notes = notes_as(intruder)
    assert notes.psychotherapy_notes_for_patient(patient.id) == []
    assert refusals(intruder, "list").count() == 2
    assert [n.id for n in notes.list_for_patient(patient.id)] == []


def test_the_author_lists_their_psychotherapy_notes_apart_from_the_record(client, author, note, patient):
    client.force_login(author)
    changelist = reverse("admin:clinical_notes_clinicalnote_changelist")
    assert client.get(changelist).context["cl"].result_count == 0
    listing = client.get(changelist, {"record": "psychotherapy"})
    assert [row.pk for row in listing.context["cl"].result_list] == [note.id]
    notes = notes_as(author)
    assert [n.id for n in notes.psychotherapy_notes_for_patient(patient.id)] == [note.id]
    assert notes.list_for_patient(patient.id) == []
    assert AccessLogEntry.objects.filter(
        user=author, action="list", category="psychotherapy_note", outcome="granted"
    ).exists()


@pytest.mark.parametrize("who", ["superuser", "other_clinician"])
def test_the_repository_refuses_every_operation_to_a_non_author_and_logs_it(note, who, request):
    intruder = request.getfixturevalue(who)
    notes = notes_as(intruder)
    attempts = {
        "read": lambda: notes.get_by_id(note.id),
        "add addendum": lambda: notes.add_addendum(note.id, text="x", reason="y"),
        "sign": lambda: notes.sign(note.id),
        "discard": lambda: notes.delete(note.id),
    }
    for action, attempt in attempts.items():
        with pytest.raises(domain.AccessDenied):
            attempt()
        assert refusals(intruder, action).count() == 1, action
    assert models.Addendum.objects.count() == 0


def test_an_authorization_lets_one_person_read_and_each_read_names_it(client, author, superuser, other_clinician, note):
    grant = services.authorization_grant(
        note_id=note.id,
        grantee=other_clinician,
        reason="Covering therapist during leave",
        expires_at=timezone.now() + dt.timedelta(days=7),
        actor=author,
    )
    notes = notes_as(other_clinician)
    assert notes.get_by_id(note.id).sections.subjective == SECRET
    entry = AccessLogEntry.objects.filter(user=other_clinician, action="read", outcome="granted").get()
    assert entry.detail == f"under authorization {grant.id}"
    client.force_login(other_clinician)
    page = client.get(reverse("admin:clinical_notes_clinicalnote_change", args=[note.id]))
    assert SECRET in page.content.decode() and page.context["has_change_permission"] is False
    assert AccessLogEntry.objects.filter(user=author, action="authorize").exists()
    # Someone else still cannot.
    with pytest.raises(domain.AccessDenied):
        notes_as(superuser).get_by_id(note.id)


def test_an_expired_or_revoked_authorization_no_longer_opens_the_note(author, other_clinician, note):
    grant = services.authorization_grant(
        note_id=note.id,
        grantee=other_clinician,
        reason="Second opinion",
        expires_at=timezone.now() + dt.timedelta(days=1),
        actor=author,
    )
    services.authorization_revoke(authorization_id=grant.id, actor=author)
    with pytest.raises(domain.AccessDenied):
        notes_as(other_clinician).get_by_id(note.id)
    assert refusals(other_clinician, "read").count() == 1


def test_nobody_authorizes_themselves_not_even_a_superuser(superuser, note):
    with pytest.raises(RuleViolation) as refused:
        services.authorization_grant(
            note_id=note.id,
            grantee=superuser,
            reason="Curious",
            expires_at=timezone.now() + dt.timedelta(days=1),
            actor=superuser,
        )
    assert "grantee" in refused.value.errors
    assert models.PsychotherapyNoteAuthorization.objects.count() == 0


def test_a_superuser_may_authorize_someone_else_as_privacy_officer(superuser, other_clinician, note):
    services.authorization_grant(
        note_id=note.id,
        grantee=other_clinician,
        reason="Court order 24-117",
        expires_at=timezone.now() + dt.timedelta(days=3),
        actor=superuser,
    )
    assert notes_as(other_clinician).get_by_id(note.id) is not None


def test_the_author_grants_access_from_the_note_page(client, author, other_clinician, note):
    client.force_login(author)
    url = reverse("admin:clinical_notes_clinicalnote_authorize", args=[note.id])
    response = client.post(url, {"grantee": other_clinician.pk, "reason": "Covering", "days": "200"})
    assert response.status_code == 200 and "days" in response.context["form"].errors
    response = client.post(url, {"grantee": other_clinician.pk, "reason": "Covering", "days": "5"})
    assert response.status_code == 302
    grant = models.PsychotherapyNoteAuthorization.objects.get()
    assert grant.grantee == other_clinician and grant.granted_by == author


def test_a_psychotherapy_draft_is_not_listed_among_someone_elses_drafts(author, other_clinician, patient):
    notes = notes_as(author)
    notes.add(
        domain.ClinicalNote(
            patient_id=patient.id,
            author=models.staff_of(author),
            kind=PSYCHOTHERAPY,
            format=domain.NoteFormat.FREE_TEXT,
            date_of_service=timezone.localdate(),
            sections=domain.Sections(body=SECRET),
        )
    )
    assert len(notes.drafts_for_author()) == 1
    assert notes_as(other_clinician).drafts_for_author(author.pk) == []


def test_authorizations_are_listed_to_those_concerned_and_never_restored_from_history(
    client, author, other_clinician, supervisor, note
):
    grant = services.authorization_grant(
        note_id=note.id,
        grantee=other_clinician,
        reason="Covering",
        expires_at=timezone.now() + dt.timedelta(days=2),
        actor=author,
    )
    changelist = reverse("admin:clinical_notes_psychotherapynoteauthorization_changelist")
    history = reverse("admin:clinical_notes_psychotherapynoteauthorization_history", args=[grant.id])
    client.force_login(supervisor)
    assert client.get(changelist).context["cl"].result_count == 0
    assert client.get(history).status_code == 404
    client.force_login(author)
    assert client.get(changelist).context["cl"].result_count == 1
    response = client.post(changelist, {"action": "revoke_selected", "_selected_action": [str(grant.id)]})
    assert response.status_code == 302
    revoked = models.PsychotherapyNoteAuthorization.objects.get()
    assert revoked.revoked_by == author and revoked.revoked_at is not None
    first = revoked.history.order_by("history_id").first()
    entry = reverse(
        "admin:clinical_notes_psychotherapynoteauthorization_simple_history", args=[grant.id, first.history_id]
    )
    assert client.get(entry).context["revert_disabled"] is True
    client.post(entry, {"version": "2"})
    assert models.PsychotherapyNoteAuthorization.objects.get().revoked_at == revoked.revoked_at
