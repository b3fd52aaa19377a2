"""The note rules on plain objects: no database, no Django."""

import dataclasses
import datetime as dt
import uuid

import pytest

from clinical_notes import domain
from novamind.domain import RuleViolation

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
TODAY = dt.date(2026, 3, 10)
AUTHOR = domain.Staff(id=1, username="drpatel", is_clinician=True)
OTHER = domain.Staff(id=2, username="msmith", is_clinician=True)
SUPERVISOR = domain.Staff(id=3, username="drlee", is_clinician=True, is_supervisor=True)
ADMIN = domain.Staff(id=4, username="boss", is_superuser=True)
FRONT_DESK = domain.Staff(id=5, username="frontdesk")


def draft(**changes):
    note = domain.ClinicalNote(
        id=uuid.UUID(int=7),
        patient_id=uuid.UUID(int=9),
        author=AUTHOR,
        kind=domain.NoteKind.PROGRESS_NOTE,
        format=domain.NoteFormat.SOAP,
        date_of_service=TODAY,
        sections=domain.Sections(
            subjective="Sleeping better.", objective="Calm.", assessment="Improving.", plan="Weekly sessions."
        ),
    )
    return dataclasses.replace(note, **changes)


def sign(note, *, signer=AUTHOR, days_later=0, late_entry_days=3):
    at = NOW + dt.timedelta(days=days_later)
    return note.signed(
        signer=signer, at=at, signed_on=TODAY + dt.timedelta(days=days_later), late_entry_days=late_entry_days
    )


class TestDrafting:
    def test_a_valid_draft_is_normalised_to_unix_line_ends_without_surrounding_space(self):
        note = draft(sections=domain.Sections(subjective="  a\r\nb \r\n", objective="o", assessment="a", plan="p"))
        assert note.validated(today=TODAY).sections.subjective == "a\nb"

    def test_a_date_of_service_in_the_future_is_refused(self):
        with pytest.raises(RuleViolation) as refused:
            draft(date_of_service=TODAY + dt.timedelta(days=1)).validated(today=TODAY)
        assert "no later than" in refused.value.errors["date_of_service"][0]

    def test_a_section_the_format_does_not_use_must_be_empty(self):
        note = draft(sections=domain.Sections(subjective="s", data="stray"))
        with pytest.raises(RuleViolation) as refused:
            note.validated(today=TODAY)
        assert refused.value.errors["data"] == ["A SOAP note has no Data section: clear it or choose another format."]

    def test_only_a_clinician_can_write_a_note(self):
        with pytest.raises(RuleViolation) as refused:
            draft(author=FRONT_DESK).validated(today=TODAY)
        assert "Only clinicians" in str(refused.value)

    def test_a_draft_may_be_incomplete(self):
        assert draft(sections=domain.Sections()).validated(today=TODAY).sections.plan == ""

    def test_a_note_needs_a_patient(self):
        with pytest.raises(RuleViolation) as refused:
            draft(patient_id=None).validated(today=TODAY)
        assert "patient" in refused.value.errors


class TestSigning:
    def test_signing_records_who_when_and_the_content_hash(self):
        note = sign(draft())
        assert note.status == domain.NoteStatus.SIGNED and note.signed_by == AUTHOR and note.signed_at == NOW
        assert note.content_hash == draft().compute_hash() and len(note.content_hash) == 64

    def test_only_the_author_signs(self):
        with pytest.raises(RuleViolation) as refused:
            sign(draft(), signer=SUPERVISOR)
        assert "Only the author, drpatel, can sign this note." in refused.value.errors["__all__"]

    def test_every_section_of_the_format_needs_text_at_signing(self):
        with pytest.raises(RuleViolation) as refused:
            sign(draft(sections=domain.Sections(subjective="s", objective="", assessment="a", plan="  ")))
        assert set(refused.value.errors) == {"objective", "plan"}

    def test_an_empty_free_text_note_cannot_be_signed(self):
        with pytest.raises(RuleViolation) as refused:
            sign(draft(format=domain.NoteFormat.FREE_TEXT, sections=domain.Sections(body="\r\n ")))
        assert "body" in refused.value.errors

    def test_a_signed_note_cannot_be_signed_again(self):
        with pytest.raises(RuleViolation) as refused:
            sign(sign(draft()))
        assert "already signed" in str(refused.value)

    @pytest.mark.parametrize(("days_later", "late"), [(0, False), (3, False), (4, True)])
    def test_a_note_signed_more_than_the_allowed_days_after_service_is_a_late_entry(self, days_later, late):
        assert sign(draft(), days_later=days_later, late_entry_days=3).late_entry is late

    def test_the_hash_covers_every_part_of_the_content(self):
        base = draft().compute_hash()
        variants = [
            draft(
                sections=domain.Sections(
                    subjective="Sleeping better!", objective="Calm.", assessment="Improving.", plan="Weekly sessions."
                )
            ),
            draft(kind=domain.NoteKind.TREATMENT_PLAN),
            draft(format=domain.NoteFormat.DAP),
            draft(date_of_service=TODAY - dt.timedelta(days=1)),
            draft(patient_id=uuid.UUID(int=10)),
            draft(author=OTHER),
        ]
        hashes = {note.compute_hash() for note in variants}
        assert base not in hashes and len(hashes) == len(variants)

    def test_the_hash_ignores_the_signature_and_workflow(self):
        note = sign(draft())
        assert dataclasses.replace(note, cosigned_by=SUPERVISOR, late_entry=True).compute_hash() == note.content_hash


class TestSignedIsFinal:
    @pytest.mark.parametrize(
        "change",
        [
            {
                "sections": domain.Sections(
                    subjective="Rewritten", objective="Calm.", assessment="Improving.", plan="Weekly sessions."
                )
            },
            {"kind": domain.NoteKind.DISCHARGE_SUMMARY},
            {"date_of_service": TODAY - dt.timedelta(days=2)},
            {"patient_id": uuid.UUID(int=11)},
        ],
    )
    def test_no_part_of_a_signed_notes_content_may_change_even_for_its_author(self, change):
        before = sign(draft())
        with pytest.raises(RuleViolation) as refused:
            domain.check_write(before, dataclasses.replace(before, **change), editor=AUTHOR)
        assert domain.SIGNED_IS_FINAL in str(refused.value)

    def test_a_signature_cannot_be_withdrawn(self):
        before = sign(draft())
        unsigned = dataclasses.replace(
            before, status=domain.NoteStatus.DRAFT, signed_at=None, signed_by=None, content_hash=""
        )
        with pytest.raises(RuleViolation):
            domain.check_write(before, unsigned, editor=AUTHOR)

    def test_stored_content_that_no_longer_matches_its_hash_cannot_be_saved(self):
        signed = sign(draft())
        tampered = dataclasses.replace(signed, sections=domain.Sections(subjective="forged"))
        with pytest.raises(RuleViolation) as refused:
            domain.check_write(tampered, tampered, editor=AUTHOR)
        assert "no longer matches" in str(refused.value)

    def test_a_signed_notes_co_signature_may_still_be_recorded(self):
        requested = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        domain.check_write(sign(draft()), requested, editor=AUTHOR)
        cosigned = requested.cosigned(cosigner=SUPERVISOR, at=NOW)
        domain.check_write(requested, cosigned, editor=SUPERVISOR)

    def test_only_the_author_changes_a_draft(self):
        before = draft()
        after = dataclasses.replace(before, sections=domain.Sections(subjective="x"))
        domain.check_write(before, after, editor=AUTHOR)
        with pytest.raises(RuleViolation):
            domain.check_write(before, after, editor=OTHER)

    def test_a_new_note_is_a_draft_in_its_authors_own_name(self):
        domain.check_write(None, draft(), editor=AUTHOR)
        with pytest.raises(RuleViolation):
            domain.check_write(None, draft(), editor=OTHER)
        with pytest.raises(RuleViolation):
            domain.check_write(None, sign(draft()), editor=AUTHOR)

    def test_a_forged_signature_is_refused(self):
        before = draft()
        forged = dataclasses.replace(sign(before), content_hash="0" * 64)
        with pytest.raises(RuleViolation):
            domain.check_write(before, forged, editor=AUTHOR)

    def test_the_edit_refusal_says_why(self):
        assert domain.edit_refusal(draft(), AUTHOR) is None
        assert domain.edit_refusal(sign(draft()), AUTHOR) == domain.SIGNED_IS_FINAL
        assert "Only the author" in domain.edit_refusal(draft(), OTHER)


class TestDiscarding:
    def test_the_author_may_discard_a_draft(self):
        domain.check_discard(draft(), editor=AUTHOR)

    def test_a_signed_note_is_never_discarded(self):
        with pytest.raises(RuleViolation) as refused:
            domain.check_discard(sign(draft()), editor=AUTHOR)
        assert "cannot be deleted" in str(refused.value)

    def test_someone_elses_draft_is_not_theirs_to_discard(self):
        with pytest.raises(RuleViolation):
            domain.check_discard(draft(), editor=OTHER)


class TestAddenda:
    def test_an_addendum_to_a_signed_note_is_signed_when_added(self):
        addendum = sign(draft()).new_addendum(author=OTHER, text=" Phone call. ", reason="Late info", at=NOW)
        assert addendum.text == "Phone call." and addendum.signed_at == NOW and addendum.author == OTHER
        assert addendum.content_hash == addendum.compute_hash()

    def test_an_addendum_on_a_draft_is_refused(self):
        with pytest.raises(RuleViolation) as refused:
            draft().new_addendum(author=AUTHOR, text="x", reason="y", at=NOW)
        assert "signed note only" in str(refused.value)

    def test_an_addendum_needs_text_and_a_reason(self):
        with pytest.raises(RuleViolation) as refused:
            sign(draft()).new_addendum(author=AUTHOR, text=" ", reason="", at=NOW)
        assert set(refused.value.errors) == {"text", "reason"}

    def test_only_the_author_adds_to_a_psychotherapy_note(self):
        note = sign(draft(kind=domain.NoteKind.PSYCHOTHERAPY_NOTE))
        with pytest.raises(RuleViolation):
            note.new_addendum(author=OTHER, text="x", reason="y", at=NOW)
        assert note.new_addendum(author=AUTHOR, text="x", reason="y", at=NOW).text == "x"


class TestCosignature:
    def test_the_author_asks_a_supervisor_who_then_co_signs(self):
        note = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        assert note.cosigned(cosigner=SUPERVISOR, at=NOW).cosigned_by == SUPERVISOR

    def test_a_co_signature_needs_a_request_and_the_supervisor_who_was_asked(self):
        with pytest.raises(RuleViolation):
            sign(draft()).cosigned(cosigner=SUPERVISOR, at=NOW)
        other_supervisor = domain.Staff(id=8, username="drchen", is_clinician=True, is_supervisor=True)
        requested = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        with pytest.raises(RuleViolation) as refused:
            requested.cosigned(cosigner=other_supervisor, at=NOW)
        assert "drlee, who was asked" in str(refused.value)

    def test_a_draft_is_not_co_signed(self):
        requested = draft().with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        with pytest.raises(RuleViolation):
            requested.cosigned(cosigner=SUPERVISOR, at=NOW)

    def test_a_co_signer_must_be_a_supervisor_and_not_the_author(self):
        with pytest.raises(RuleViolation) as refused:
            sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=OTHER, at=NOW)
        assert "not an active supervisor" in refused.value.errors["cosign_requested_from"][0]
        with pytest.raises(RuleViolation):
            sign(draft()).with_cosignature_requested(requester=OTHER, supervisor=SUPERVISOR, at=NOW)


class TestPsychotherapyAccess:
    def note(self):
        return sign(draft(kind=domain.NoteKind.PSYCHOTHERAPY_NOTE))

    def grant(self, **changes):
        values = dict(
            grantee=OTHER, granted_by=AUTHOR, reason="Covering", expires_at=NOW + dt.timedelta(days=7), now=NOW
        )
        values.update(changes)
        return domain.new_authorization(self.note(), **values)

    def test_only_the_author_reads_a_psychotherapy_note_superusers_included(self):
        note = self.note()
        assert domain.read_decision(note, reader=AUTHOR, authorizations=[], now=NOW).allowed
        for reader in (OTHER, SUPERVISOR, ADMIN):
            assert not domain.read_decision(note, reader=reader, authorizations=[], now=NOW).allowed

    def test_other_notes_are_readable_by_staff(self):
        assert domain.read_decision(sign(draft()), reader=OTHER, authorizations=[], now=NOW).allowed

    def test_an_active_authorization_opens_the_note_to_its_grantee_only(self):
        grant = dataclasses.replace(self.grant(), id=uuid.UUID(int=1))
        decision = domain.read_decision(self.note(), reader=OTHER, authorizations=[grant], now=NOW)
        assert decision.allowed and decision.authorization == grant
        assert not domain.read_decision(self.note(), reader=ADMIN, authorizations=[grant], now=NOW).allowed

    def test_an_expired_or_revoked_authorization_opens_nothing(self):
        grant = self.grant()
        later = NOW + dt.timedelta(days=8)
        assert not domain.read_decision(self.note(), reader=OTHER, authorizations=[grant], now=later).allowed
        revoked = grant.revoked(by=AUTHOR, at=NOW, note_author=AUTHOR)
        assert not domain.read_decision(self.note(), reader=OTHER, authorizations=[revoked], now=NOW).allowed

    def test_nobody_authorizes_themselves(self):
        with pytest.raises(RuleViolation) as refused:
            self.grant(grantee=ADMIN, granted_by=ADMIN)
        assert "grantee" in refused.value.errors

    def test_only_the_author_or_a_privacy_officer_grants(self):
        with pytest.raises(RuleViolation):
            self.grant(grantee=SUPERVISOR, granted_by=OTHER)
        assert self.grant(grantee=SUPERVISOR, granted_by=ADMIN).granted_by == ADMIN

    def test_an_authorization_is_limited_in_time_and_needs_a_reason(self):
        with pytest.raises(RuleViolation) as refused:
            self.grant(expires_at=NOW + dt.timedelta(days=domain.AUTHORIZATION_MAX_DAYS + 1), reason="")
        assert set(refused.value.errors) == {"expires_at", "reason"}
        with pytest.raises(RuleViolation):
            self.grant(expires_at=NOW - dt.timedelta(seconds=1))

    def test_a_draft_psychotherapy_note_is_not_shared(self):
        with pytest.raises(RuleViolation):
            domain.new_authorization(
                draft(kind=domain.NoteKind.PSYCHOTHERAPY_NOTE),
                grantee=OTHER,
                granted_by=AUTHOR,
                reason="x",
                expires_at=NOW + dt.timedelta(days=1),
                now=NOW,
            )

    def test_psychotherapy_notes_are_not_co_signed(self):
        with pytest.raises(RuleViolation):
            self.note().with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
