"""The clinical notes' write API: the only door through which a note, an addendum or an
authorization is written.

Every service takes the acting user (`actor`, keyword-only) and, before anything is written:
asks the policy (`patients.policy.require`: the role permission; then care, through
`selectors.decide`: the actor must be allowed to see the note's patient, or be the supervisor a
pending co-signature request names, for reading and co-signing that note only), applies the
psychotherapy-note rule (`selectors.require_access`, i.e. `domain.read_decision`: only the author
or someone they authorized), and validates through the domain. It then writes through the
repository (the audited path) in one transaction. Refusals raise AccessDenied or RuleViolation and write nothing;
a psychotherapy refusal is kept in the access log (written before the transaction).

The admin (save_model, workflow pages, actions) and the commands call these functions with
`request.user` / `--actor`; nothing else writes notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Prefetch, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from clinical_notes import domain, models, repository, selectors
from diagnoses import selectors as diagnoses_selectors
from novamind import access, audit, encryption, roles
from novamind.domain import AccessDenied, ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import policy
from patients.models import Patient

# Kept here too: the dashboard names these categories as the notes' services.
CLINICAL_CATEGORY = selectors.CLINICAL_CATEGORY
PSYCHOTHERAPY_CATEGORY = selectors.PSYCHOTHERAPY_CATEGORY

VIEW = "clinical_notes.view_clinicalnote"
ADD = "clinical_notes.add_clinicalnote"
CHANGE = "clinical_notes.change_clinicalnote"
ADD_ADDENDUM = "clinical_notes.add_addendum"
COSIGN = models.COSIGN_PERMISSION
GRANT = "clinical_notes.add_psychotherapynoteauthorization"
REVOKE = "clinical_notes.change_psychotherapynoteauthorization"


def _notes(actor, request=None) -> repository.DjangoClinicalNoteRepository:
    return repository.DjangoClinicalNoteRepository(actor=actor, request=request)


def _authorized(actor, note_id, permission: str, action: str, request=None, *, psychotherapy_rule=True):
    """Return the note row (without text) `actor` may `action` with `permission`, or raise.

    NotFound if there is no such note; AccessDenied if the role or care refuses (the policy; the
    supervisor asked to co-sign is let in for `domain.COSIGNER_ACTIONS` only), or if it is a
    psychotherapy note the actor may not read (the refusal is logged).
    """
    actor = audit.require_actor(actor)
    row = _notes(actor, request).row(note_id)
    if row is None:
        raise NotFound(f"No clinical note with id {note_id}.")
    policy.require(actor, permission)
    if selectors.decide(row=row, user=actor, action=action).outside_care:
        raise AccessDenied(f"{actor.get_username()} is not on this patient's care team.")
    if psychotherapy_rule and row.kind == models.PSYCHOTHERAPY:
        # Someone who may not even read a psychotherapy note learns nothing more by writing.
        selectors.require_access(row=row, user=actor, action=action, request=request)
    return row


def _patient_id(value) -> uuid.UUID | None:
    if value is None:
        return None
    patient_id = parse_id(value)
    if patient_id is None or not Patient.objects.filter(pk=patient_id).exists():
        raise RuleViolation({"patient": [f"No patient with id {value} exists."]})
    return patient_id


def _today() -> dt.date:
    return timezone.localdate()


def note_read(*, note_id, actor, request=None) -> domain.ClinicalNote:
    """Return the note with its text and addenda for `actor`, the read logged; or raise.

    The one read of a note's text outside the admin's own pages (commands use it).
    """
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, VIEW, "read", request, psychotherapy_rule=False)
    selectors.require_access(row=row, user=actor, action="read", request=request)
    return _notes(actor, request).get(row.pk)


def addressing(ids) -> tuple[domain.AddressedDiagnosis, ...]:
    """Return what a note names when it addresses the diagnoses with these ids (the rest is read by `addressed`)."""
    return tuple(domain.AddressedDiagnosis(id=diagnosis_id) for diagnosis_id in ids)


def addressed(note: domain.ClinicalNote, *, actor, before_ids: frozenset = frozenset()) -> domain.ClinicalNote:
    """Return `note` with the diagnoses it names read from its patient's problem list, or raise.

    Only their ids are taken from `note`: the code, the patient and whether each is current come
    from the diagnosis itself, read as `actor` (who must be allowed to read the problem list).
    The rules are `domain.check_addressed`: the patient's own, newly chosen ones current, none on
    a psychotherapy note. The one check of the services and the admin's note form.
    """
    ids = [diagnosis.id for diagnosis in note.diagnoses]
    if not ids:
        return dataclasses.replace(note, diagnoses=())
    found = diagnoses_selectors.of_patient(patient_id=note.patient_id, ids=ids, user=actor)
    chosen = {}
    for diagnosis_id in ids:
        diagnosis = found.get(parse_id(diagnosis_id))
        chosen[diagnosis_id] = (
            domain.AddressedDiagnosis(
                id=diagnosis.id, code=diagnosis.code, patient_id=diagnosis.patient_id, current=diagnosis.is_current
            )
            if diagnosis is not None
            else domain.AddressedDiagnosis(id=diagnosis_id)  # not this patient's: refused below
        )
    note = dataclasses.replace(note, diagnoses=tuple(sorted(chosen.values(), key=lambda d: (d.code, str(d.id)))))
    domain.check_addressed(note, before_ids=before_ids)
    return note


def note_create(*, note: domain.ClinicalNote, actor, request=None) -> domain.ClinicalNote:
    """Store `note` as a new draft by `actor` about a patient they may see, with the diagnoses it addresses."""
    actor = audit.require_actor(actor)
    if note.author is not None and note.author.id != actor.pk:
        raise RuleViolation("A note can be written only in its author's own name.")
    patient_id = _patient_id(note.patient_id)
    policy.require(actor, ADD, patient_id=patient_id)
    note = dataclasses.replace(note, patient_id=patient_id, author=models.staff_of(actor))
    note = addressed(note.validated(today=_today()), actor=actor)
    with transaction.atomic():
        return _notes(actor, request).add(note)


def note_update_draft(
    *, note: domain.ClinicalNote, actor, reason: str = "Draft changed", request=None
) -> domain.ClinicalNote:
    """Store the changed content of `actor`'s own draft, read at `note.audit.version`."""
    actor = audit.require_actor(actor)
    row = _authorized(actor, note.id, CHANGE, "update", request)
    patient_id = _patient_id(note.patient_id)
    if patient_id != row.patient_id:
        policy.require(actor, CHANGE, patient_id=patient_id)  # moving a draft needs the new patient too
    refusal = domain.edit_refusal(row.to_summary(), models.staff_of(actor))
    if refusal:
        raise RuleViolation(refusal)
    note = dataclasses.replace(note, patient_id=patient_id).validated(today=_today())
    note = addressed(note, actor=actor, before_ids=frozenset(diagnosis.id for diagnosis in row.addressed()))
    with transaction.atomic():
        return _notes(actor, request).store(note, reason=reason)


def note_sign(*, note_id, actor, version: int | None = None, request=None) -> domain.ClinicalNote:
    """Sign `actor`'s own draft: its content becomes final and its hash is taken."""
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, CHANGE, "sign", request)
    notes = _notes(actor, request)
    note = notes.get(row.pk)
    if version is not None and note.audit.version != version:
        raise ConcurrencyError("Clinical note", row, version, note.audit.version)
    now = timezone.now()
    signed = note.signed(
        signer=models.staff_of(actor),
        at=now,
        signed_on=timezone.localdate(now),
        late_entry_days=settings.NOVAMIND_LATE_ENTRY_DAYS,
        require_diagnosis=settings.NOVAMIND_SIGN_REQUIRES_DIAGNOSIS,
    )
    with transaction.atomic():
        return notes.store(signed, reason="Signed (late entry)" if signed.late_entry else "Signed")


def note_discard(*, note_id, actor, request=None) -> None:
    """Discard `actor`'s own draft (its history is kept); a signed note is refused."""
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, CHANGE, "discard", request)
    domain.check_discard(row.to_summary(), editor=models.staff_of(actor))
    with transaction.atomic():
        _notes(actor, request).delete(row.pk)


def addendum_add(*, note_id, text: str, reason: str, actor, request=None) -> domain.Addendum:
    """Add a signed addendum by `actor` to a signed note of a patient they may see."""
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, ADD_ADDENDUM, "add addendum", request)
    notes = _notes(actor, request)
    addendum = notes.get(row.pk).new_addendum(
        author=models.staff_of(actor), text=text, reason=reason, at=timezone.now()
    )
    with transaction.atomic():
        return notes.add_addendum(addendum)


def cosignature_request(*, note_id, supervisor_id: int, actor, request=None) -> domain.ClinicalNote:
    """Ask a supervisor to co-sign `actor`'s signed note; one request may be pending at a time.

    The request is the author's explicit delegation of this one note: until it is co-signed or
    withdrawn, the supervisor may open it and co-sign it even when not on the patient's care team
    (`domain.read_decision`), and nothing else of the patient. It is kept in the note's history
    and in the access log, which says whether it opened the note to someone outside the care team.
    """
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, CHANGE, "request co-signature", request)
    notes = _notes(actor, request)
    supervisor = get_user_model().objects.select_related("staff_profile").filter(pk=supervisor_id).first()
    if supervisor is None:
        raise RuleViolation({"cosign_requested_from": [f"No user with id {supervisor_id}."]})
    requested = notes.get(row.pk).with_cosignature_requested(
        requester=models.staff_of(actor),
        supervisor=models.supervisor_of(supervisor),
        at=timezone.now(),
    )
    name = supervisor.get_username()
    opened = "" if policy.may_see(supervisor, row.patient_id) else "; not on the care team, may open this note only"
    with transaction.atomic():
        stored = notes.store(requested, reason=f"Co-signature requested from {name}")
        _record_workflow(actor, row, "request co-signature", f"{name} asked to co-sign{opened}", request)
    return stored


def cosignature_withdraw(*, note_id, actor, request=None) -> domain.ClinicalNote:
    """Withdraw the pending co-signature request on `actor`'s note: the supervisor can no longer open it."""
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, CHANGE, "withdraw co-signature", request)
    notes = _notes(actor, request)
    note = notes.get(row.pk)
    withdrawn = note.with_cosignature_withdrawn(requester=models.staff_of(actor))
    name = note.cosign_requested_from.username
    with transaction.atomic():
        stored = notes.store(withdrawn, reason=f"Co-signature request to {name} withdrawn")
        _record_workflow(actor, row, "withdraw co-signature", f"request to {name} withdrawn", request)
    return stored


def _record_workflow(actor, row, action: str, detail: str, request) -> None:
    access.record(
        user=actor,
        action=action,
        category=CLINICAL_CATEGORY,
        patient=selectors.patient_ref(row.patient_id),
        obj=row,
        request=request,
        detail=detail,
    )


def note_cosign(*, note_id, actor, request=None) -> domain.ClinicalNote:
    """Record `actor`'s co-signature on a signed note they were asked to co-sign (in their care or not)."""
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, COSIGN, "co-sign", request)
    notes = _notes(actor, request)
    cosigned = notes.get(row.pk).cosigned(cosigner=models.supervisor_of(actor), at=timezone.now())
    with transaction.atomic():
        return notes.store(cosigned, reason="Co-signed")


def authorization_grant(
    *, note_id: uuid.UUID, grantee, reason: str, expires_at: dt.datetime | None, actor, request=None
) -> domain.Authorization:
    """Authorize `grantee` to read one psychotherapy note until `expires_at`, as `actor`.

    The domain (`new_authorization`, run by the model) lets only the note's author or a privacy
    officer (superuser) grant; the policy asks the role and care first. Granting reads no content,
    so the psychotherapy read rule is not asked here.
    """
    actor = audit.require_actor(actor)
    row = _authorized(actor, note_id, GRANT, "authorize", request, psychotherapy_rule=False)
    if grantee is None:
        raise RuleViolation({"grantee": ["Choose who may read the note."]})
    with transaction.atomic():
        grant = _notes(actor, request).add_authorization(
            note_id=row.pk, grantee=grantee, reason=reason, expires_at=expires_at
        )
        access.record(
            user=actor,
            action="authorize",
            category=PSYCHOTHERAPY_CATEGORY,
            patient=selectors.patient_ref(row.patient_id),
            obj=row,
            request=request,
            detail=f"authorization {grant.id} for {grantee.get_username()} until {expires_at:%Y-%m-%d %H:%M}",
        )
    return grant


def authorization_revoke(*, authorization_id: uuid.UUID, actor, request=None) -> domain.Authorization:
    """Revoke an authorization at once, as `actor`.

    The role permission is asked, not care: revoking only narrows access, and the domain lets only
    whoever granted it, the note's author or a privacy officer revoke.
    """
    actor = audit.require_actor(actor)
    policy.require(actor, REVOKE)
    grant = (
        models.PsychotherapyNoteAuthorization.objects.select_related("note__author", "grantee", "granted_by")
        .filter(pk=authorization_id)
        .first()
    )
    if grant is None:
        raise NotFound(f"No authorization with id {authorization_id}.")
    revoked = grant.to_domain().revoked(
        by=models.staff_of(actor),
        at=timezone.now(),
        note_author=models.staff_of(grant.note.author),
    )
    with transaction.atomic():
        stored = _notes(actor, request).revoke_authorization(revoked)
        access.record(
            user=actor,
            action="revoke",
            category=PSYCHOTHERAPY_CATEGORY,
            patient=selectors.patient_ref(grant.note.patient_id),
            obj=grant.note,
            request=request,
            detail=f"authorization {grant.pk} revoked",
        )
    return stored


def may_verify(user) -> bool:
    """Return whether `user` may run the integrity check: the notes' view permission, or an Auditor."""
    if policy.may(user, VIEW):
        return True
    return bool(getattr(user, "pk", None)) and user.is_active and user.groups.filter(name=roles.AUDITOR).exists()


@dataclasses.dataclass
class Verification:
    """The outcome of recomputing the content hash of every signed note and addendum."""

    notes_checked: int
    addenda_checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Return whether every hash matched."""
        return not self.problems


def verify_integrity(*, actor, batch_size: int = 500) -> Verification:
    """Recompute every signed note's and addendum's hash from its decrypted content (and its diagnoses' codes).

    A mismatch means the row was changed behind the application. The ciphertext is read as
    text and decrypted here, so one row that no longer decrypts is reported instead of
    stopping the run. The run decrypts notes of every kind without showing them, so it is
    recorded in the access log in `actor`'s name. Problems name records by id and patient
    MRN only, never by content.
    """
    actor = audit.require_actor(actor)
    if not may_verify(actor):
        raise AccessDenied(
            f"{actor.get_username()} may not run verify_notes: it needs the view permission on clinical "
            f"notes or the Auditor role."
        )
    # The reads and both entries are one transaction: the run is on record in both categories or in neither.
    with transaction.atomic():
        notes_checked, addenda_checked, problems = _check_hashes(actor, batch_size)
        for category in (CLINICAL_CATEGORY, PSYCHOTHERAPY_CATEGORY):
            access.record(
                user=actor,
                action="verify",
                category=category,
                detail=f"integrity check of {notes_checked} signed notes and {addenda_checked} addenda; no content shown",
            )
    return Verification(notes_checked=notes_checked, addenda_checked=addenda_checked, problems=problems)


def _check_hashes(actor, batch_size: int) -> tuple[int, int, list[str]]:
    """Return how many signed notes and addenda `actor` may see were checked, and the problems found."""
    problems: list[str] = []
    # A care-restricted actor checks only the notes of patients they may see (their report names
    # MRNs); an auditor or a superuser checks every note.
    signed_notes = policy.restrict(models.ClinicalNote.objects.filter(status=domain.NoteStatus.SIGNED.value), actor)
    # The addressed diagnoses' codes are read as ciphertext too, for the same reason.
    links = (
        models.AddressedDiagnosis.objects.select_related("diagnosis")
        .only("note_id", "diagnosis__patient_id", "diagnosis__status")
        .annotate(ciphertext_code=Cast("diagnosis__code", output_field=TextField()))
    )
    notes = (
        _with_ciphertext(signed_notes, domain.SECTIONS)
        .select_related("author__staff_profile", "signed_by", "cosign_requested_from", "cosigned_by")
        .prefetch_related(Prefetch("diagnosis_links", queryset=links))
        .annotate(patient_mrn=F("patient__mrn"))
        .order_by("signed_at", "id")
    )
    notes_checked = 0
    for row in notes.iterator(chunk_size=batch_size):
        notes_checked += 1
        label = f"note {row.pk} (patient {row.patient_mrn}, signed {timezone.localtime(row.signed_at):%Y-%m-%d})"
        try:
            sections = domain.Sections(**_decrypted(row, domain.SECTIONS))
        except encryption.DecryptionError:
            problems.append(f"{label}: its content does not decrypt (changed outside NovaMind, or a wrong key)")
            continue
        try:
            diagnoses = row.addressed(code_of=lambda link: _decrypted(link, DIAGNOSIS_CODE)["code"])
        except encryption.DecryptionError:
            problems.append(
                f"{label}: the code of a diagnosis it addresses does not decrypt (changed outside NovaMind, or a wrong key)"
            )
            continue
        actual = row.to_domain(with_audit=False, sections=sections, diagnoses=diagnoses).compute_hash()
        if not row.content_hash:
            problems.append(f"{label}: it is signed but has no content hash")
        elif actual != row.content_hash:
            problems.append(f"{label}: its content no longer matches the hash taken at signing")
    addenda_checked = 0
    addenda = (
        _with_ciphertext(policy.restrict(models.Addendum.objects.all(), actor, via="note__patient"), ADDENDUM_TEXT)
        .select_related("author__staff_profile")
        .annotate(patient_mrn=F("note__patient__mrn"))
        .order_by("signed_at", "id")
    )
    for row in addenda.iterator(chunk_size=batch_size):
        addenda_checked += 1
        label = f"addendum {row.pk} to note {row.note_id} (patient {row.patient_mrn})"
        try:
            text = _decrypted(row, ADDENDUM_TEXT)
        except encryption.DecryptionError:
            problems.append(f"{label}: its content does not decrypt (changed outside NovaMind, or a wrong key)")
            continue
        actual = dataclasses.replace(row.to_domain(with_text=False), **text).compute_hash()
        if actual != row.content_hash:
            problems.append(f"{label}: its content no longer matches the hash taken when it was added")
    return notes_checked, addenda_checked, problems


ADDENDUM_TEXT = ("text", "reason")
DIAGNOSIS_CODE = ("code",)


def _with_ciphertext(queryset, columns):
    # Cast to plain text: the column's own converter would decrypt while fetching, and a single
    # undecryptable row would stop the whole check.
    return queryset.defer(*columns).annotate(
        **{f"ciphertext_{name}": Cast(name, output_field=TextField()) for name in columns}
    )


def _decrypted(row, columns) -> dict[str, str]:
    values = {}
    for name in columns:
        token = getattr(row, f"ciphertext_{name}")
        values[name] = "" if token is None else encryption.decrypt(token)
    return values
