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

    def test_a_draft_is_neither_sent_for_nor_given_a_co_signature(self):
        with pytest.raises(RuleViolation, match="Sign the note before"):
            draft().with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        requested = dataclasses.replace(draft(), cosign_requested_from=SUPERVISOR, cosign_requested_at=NOW)
        with pytest.raises(RuleViolation):
            requested.cosigned(cosigner=SUPERVISOR, at=NOW)

    def test_a_co_signer_must_be_a_supervisor_and_not_the_author(self):
        with pytest.raises(RuleViolation) as refused:
            sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=OTHER, at=NOW)
        assert "not an active supervisor" in refused.value.errors["cosign_requested_from"][0]
        with pytest.raises(RuleViolation):
            sign(draft()).with_cosignature_requested(requester=OTHER, supervisor=SUPERVISOR, at=NOW)

    def test_a_second_request_is_refused_while_one_is_pending(self):
        requested = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        other_supervisor = domain.Staff(id=8, username="drchen", is_clinician=True, is_supervisor=True)
        for supervisor in (SUPERVISOR, other_supervisor):
            with pytest.raises(RuleViolation) as refused:
                requested.with_cosignature_requested(requester=AUTHOR, supervisor=supervisor, at=NOW)
            assert "already requested from drlee" in str(refused.value)

    def test_the_author_withdraws_a_pending_request_and_may_then_ask_someone_else(self):
        requested = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        withdrawn = requested.with_cosignature_withdrawn(requester=AUTHOR)
        assert withdrawn.cosign_requested_from is None and withdrawn.cosign_requested_at is None
        domain.check_write(requested, withdrawn, editor=AUTHOR)
        other_supervisor = domain.Staff(id=8, username="drchen", is_clinician=True, is_supervisor=True)
        assert withdrawn.with_cosignature_requested(requester=AUTHOR, supervisor=other_supervisor, at=NOW)

    def test_only_the_author_withdraws_and_only_a_pending_request(self):
        requested = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        with pytest.raises(RuleViolation, match="Only the author"):
            requested.with_cosignature_withdrawn(requester=SUPERVISOR)
        with pytest.raises(RuleViolation, match="No co-signature request"):
            sign(draft()).with_cosignature_withdrawn(requester=AUTHOR)
        with pytest.raises(RuleViolation, match="already co-signed"):
            requested.cosigned(cosigner=SUPERVISOR, at=NOW).with_cosignature_withdrawn(requester=AUTHOR)

    def test_a_pending_request_is_not_redirected_to_another_supervisor_behind_the_rules(self):
        requested = sign(draft()).with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)
        other_supervisor = domain.Staff(id=8, username="drchen", is_clinician=True, is_supervisor=True)
        redirected = dataclasses.replace(requested, cosign_requested_from=other_supervisor)
        with pytest.raises(RuleViolation, match="withdraw"):
            domain.check_write(requested, redirected, editor=AUTHOR)

    def test_a_psychotherapy_note_is_not_co_signed_even_if_a_request_slipped_through(self):
        # Written behind the rules (the request refuses psychotherapy notes): still not co-signed.
        therapy = dataclasses.replace(
            sign(draft(kind=domain.NoteKind.PSYCHOTHERAPY_NOTE)),
            cosign_requested_from=SUPERVISOR,
            cosign_requested_at=NOW,
        )
        with pytest.raises(RuleViolation, match="not co-signed"):
            therapy.cosigned(cosigner=SUPERVISOR, at=NOW)


class TestCosignatureDelegation:
    """Outside the patient's care, the supervisor asked to co-sign may open that one note."""

    def requested(self, note=None):
        note = note or sign(draft())
        return note.with_cosignature_requested(requester=AUTHOR, supervisor=SUPERVISOR, at=NOW)

    def decide(self, note, reader=SUPERVISOR, *, action="read", in_care=False):
        return domain.read_decision(note, reader=reader, authorizations=[], now=NOW, in_care=in_care, action=action)

    def test_the_supervisor_asked_opens_the_note_to_read_and_co_sign_it(self):
        for action in ("read", "history", "co-sign"):
            decision = self.decide(self.requested(), action=action)
            assert decision.allowed and decision.for_cosignature and not decision.outside_care, action

    def test_nothing_else_is_opened_to_them(self):
        for action in ("update", "add addendum", "discard", "revert", "request co-signature", "authorize"):
            decision = self.decide(self.requested(), action=action)
            assert not decision.allowed and decision.outside_care, action

    def test_nobody_else_is_let_in_and_nothing_is_let_in_without_a_request(self):
        other_supervisor = domain.Staff(id=8, username="drchen", is_clinician=True, is_supervisor=True)
        assert self.decide(self.requested(), other_supervisor).outside_care
        assert self.decide(sign(draft())).outside_care

    def test_the_delegation_ends_with_the_co_signature_or_the_supervisor_role(self):
        cosigned = self.requested().cosigned(cosigner=SUPERVISOR, at=NOW)
        assert self.decide(cosigned).outside_care
        demoted = dataclasses.replace(SUPERVISOR, is_supervisor=False)
        assert self.decide(self.requested(), demoted).outside_care
        inactive = dataclasses.replace(SUPERVISOR, is_active=False)
        assert self.decide(self.requested(), inactive).outside_care

    def test_a_psychotherapy_note_is_never_opened_by_a_request(self):
        slipped = dataclasses.replace(self.requested(), kind=domain.NoteKind.PSYCHOTHERAPY_NOTE)
        assert self.decide(slipped).outside_care

    def test_in_care_the_request_changes_nothing(self):
        decision = self.decide(self.requested(), in_care=True)
        assert decision.allowed and not decision.for_cosignature

    def test_a_summary_carries_what_the_decision_needs(self):
        summary = domain.NoteSummary(
            id=uuid.UUID(int=7),
            patient_id=uuid.UUID(int=9),
            author=AUTHOR,
            kind=domain.NoteKind.PROGRESS_NOTE,
            format=domain.NoteFormat.SOAP,
            date_of_service=TODAY,
            status=domain.NoteStatus.SIGNED,
            signed_at=NOW,
            late_entry=False,
            cosigned=False,
            addenda_count=0,
            cosign_requested_from_id=SUPERVISOR.id,
        )
        assert self.decide(summary).for_cosignature


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


# --- The diagnoses a note addresses ------------------------------------------------------------

PATIENT = uuid.UUID(int=9)
DEPRESSION = domain.AddressedDiagnosis(id=uuid.UUID(int=21), code="F32.1", patient_id=PATIENT)
ANXIETY = domain.AddressedDiagnosis(id=uuid.UUID(int=22), code="F41.1", patient_id=PATIENT)


def sign_requiring(note, *, require=True):
    return note.signed(signer=AUTHOR, at=NOW, signed_on=TODAY, late_entry_days=3, require_diagnosis=require)


class TestAddressedDiagnoses:
    def test_a_progress_note_is_signed_only_with_a_diagnosis_when_the_clinic_requires_one(self):
        with pytest.raises(RuleViolation) as refused:
            sign_requiring(draft())
        assert refused.value.errors == {"diagnoses": [domain.SIGN_NEEDS_DIAGNOSIS]}
        assert sign_requiring(draft(diagnoses=(DEPRESSION,))).is_signed
        assert sign_requiring(draft(), require=False).is_signed

    @pytest.mark.parametrize("kind", [kind for kind in domain.NoteKind if kind is not domain.NoteKind.PROGRESS_NOTE])
    def test_other_kinds_of_note_are_signed_without_a_diagnosis(self, kind):
        assert sign_requiring(draft(kind=kind)).is_signed

    def test_the_signed_hash_covers_the_codes_addressed(self):
        signed = sign_requiring(draft(diagnoses=(DEPRESSION, ANXIETY)))
        assert signed.content_hash == signed.compute_hash()
        other_code = dataclasses.replace(ANXIETY, code="F41.0")
        assert dataclasses.replace(signed, diagnoses=(DEPRESSION, other_code)).compute_hash() != signed.content_hash
        assert dataclasses.replace(signed, diagnoses=(DEPRESSION,)).compute_hash() != signed.content_hash
        assert dataclasses.replace(signed, diagnoses=(ANXIETY, DEPRESSION)).compute_hash() == signed.content_hash

    def test_a_note_addressing_no_diagnosis_hashes_as_notes_did_before_diagnoses(self):
        import hashlib
        import json

        note = sign_requiring(draft(), require=False)
        content = {
            "scheme": "novamind.clinical_note.v1",
            "patient_id": str(note.patient_id),
            "author_id": AUTHOR.id,
            "kind": "progress_note",
            "format": "soap",
            "date_of_service": TODAY.isoformat(),
            "sections": note.sections.as_dict(),
        }
        payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert note.content_hash == hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def test_a_note_addresses_only_its_patients_diagnoses(self):
        elsewhere = dataclasses.replace(ANXIETY, patient_id=uuid.UUID(int=99))
        with pytest.raises(RuleViolation) as refused:
            domain.check_addressed(draft(diagnoses=(DEPRESSION, elsewhere)))
        assert refused.value.errors == {"diagnoses": [domain.NOT_THIS_PATIENTS]}
        with pytest.raises(RuleViolation):
            sign_requiring(draft(diagnoses=(elsewhere,)))

    def test_a_diagnosis_newly_chosen_is_current_one_chosen_before_may_since_have_resolved(self):
        resolved = dataclasses.replace(DEPRESSION, current=False)
        with pytest.raises(RuleViolation) as refused:
            domain.check_addressed(draft(diagnoses=(resolved,)))
        assert refused.value.errors == {"diagnoses": [domain.NOT_CURRENT]}
        domain.check_addressed(draft(diagnoses=(resolved,)), before_ids=frozenset({resolved.id}))
        assert sign_requiring(draft(diagnoses=(resolved,))).is_signed

    def test_a_psychotherapy_note_addresses_no_diagnosis(self):
        with pytest.raises(RuleViolation) as refused:
            domain.check_addressed(draft(kind=domain.NoteKind.PSYCHOTHERAPY_NOTE, diagnoses=(DEPRESSION,)))
        assert refused.value.errors == {"diagnoses": [domain.PSYCHOTHERAPY_NO_DIAGNOSES]}

    def test_a_signed_notes_diagnoses_never_change(self):
        signed = sign_requiring(draft(diagnoses=(DEPRESSION,)))
        for changed in ((DEPRESSION, ANXIETY), (), (ANXIETY,)):
            with pytest.raises(RuleViolation) as refused:
                domain.check_write(signed, dataclasses.replace(signed, diagnoses=changed), editor=AUTHOR)
            assert refused.value.errors["diagnoses"] == [domain.SIGNED_IS_FINAL]

    def test_only_the_author_changes_what_a_draft_addresses(self):
        note = draft(diagnoses=(DEPRESSION,))
        domain.check_write(note, dataclasses.replace(note, diagnoses=(ANXIETY,)), editor=AUTHOR)
        with pytest.raises(RuleViolation, match="Only the author"):
            domain.check_write(note, dataclasses.replace(note, diagnoses=(ANXIETY,)), editor=OTHER)
