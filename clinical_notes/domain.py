"""Clinical notes: drafted, signed once by their author, then corrected only by addenda.

A signed note is part of the legal record. Its content (the sections, kind, format, date of
service, patient and author, and the codes of the diagnoses it addresses) is fixed at signing
and covered by a SHA-256 content hash, so a change made behind the application can be detected
later. A note addresses diagnoses chosen from its patient's problem list; a progress note is
signed with at least one (a visit is billed against a diagnosis), unless the clinic says
otherwise, and a signed note's diagnoses never change. Psychotherapy notes (45 CFR 164.501) are
the therapist's private process notes: only their author reads them, unless the author or a
privacy officer grants someone a time-limited, logged authorization (164.508(a)(2)); they
address no diagnosis.

Plain Python, standard library only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid

from novamind import domain as kernel
from novamind.domain import EARLIEST_DATE, AuditInfo, Collector, RuleViolation, date_bounds_error

SECTION_MAX = 50_000
REASON_MAX = 500
AUTHORIZATION_MAX_DAYS = 90
NOTE_HASH_SCHEME = "novamind.clinical_note.v1"
# A note that addresses diagnoses hashes them too, under its own scheme; one that addresses none
# hashes exactly as before, so notes signed before diagnoses existed still verify.
NOTE_WITH_DIAGNOSES_HASH_SCHEME = "novamind.clinical_note.v2"
ADDENDUM_HASH_SCHEME = "novamind.addendum.v1"
NON_FIELD = RuleViolation.NON_FIELD

SIGNED_IS_FINAL = "This note is signed and can no longer be changed; add an addendum to correct it."
# Without the codes: a message may travel in a cookie (the admin's messages), and codes are PHI.
SIGN_NEEDS_DIAGNOSIS = (
    "Choose at least one diagnosis this progress note addresses before signing: a visit is billed against one."
)
NOT_THIS_PATIENTS = "Choose the diagnoses from this patient's problem list."
NOT_CURRENT = "A resolved or ruled-out diagnosis is no longer on the problem list: choose a current one."
PSYCHOTHERAPY_NO_DIAGNOSES = "A psychotherapy note is kept apart from the record and addresses no diagnosis."


class NoteKind(str, enum.Enum):
    """What the note records."""

    INTAKE_ASSESSMENT = "intake_assessment"
    PROGRESS_NOTE = "progress_note"
    PSYCHOTHERAPY_NOTE = "psychotherapy_note"
    TREATMENT_PLAN = "treatment_plan"
    DISCHARGE_SUMMARY = "discharge_summary"

    @property
    def label(self) -> str:
        """Return the name staff read, e.g. "Progress note"."""
        return self.value.replace("_", " ").capitalize()


class NoteFormat(str, enum.Enum):
    """How the note is written: a structured format keeps each section apart."""

    SOAP = "soap"
    DAP = "dap"
    FREE_TEXT = "free_text"

    @property
    def label(self) -> str:
        """Return the name staff read."""
        return {"soap": "SOAP", "dap": "DAP", "free_text": "Free text"}[self.value]


class NoteStatus(str, enum.Enum):
    """Where the note is in its life: a draft can change, a signed note cannot."""

    DRAFT = "draft"
    SIGNED = "signed"


SECTIONS = ("subjective", "objective", "data", "assessment", "plan", "body")
SECTIONS_BY_FORMAT = {
    NoteFormat.SOAP: ("subjective", "objective", "assessment", "plan"),
    NoteFormat.DAP: ("data", "assessment", "plan"),
    NoteFormat.FREE_TEXT: ("body",),
}
SECTION_LABELS = {
    "subjective": "Subjective",
    "objective": "Objective",
    "data": "Data",
    "assessment": "Assessment",
    "plan": "Plan",
    "body": "Note",
}


class AccessDenied(kernel.AccessDenied):
    """The user may not read this psychotherapy note; the refusal has been recorded in the access log."""


@dataclasses.dataclass(frozen=True)
class Staff:
    """A staff member as the note rules see them: identity and the roles that matter here."""

    id: int
    username: str
    is_clinician: bool = False
    is_supervisor: bool = False
    is_superuser: bool = False
    is_active: bool = True


@dataclasses.dataclass(frozen=True)
class Sections:
    """The text of a note, section by section; a format uses only some of them."""

    subjective: str = ""
    objective: str = ""
    data: str = ""
    assessment: str = ""
    plan: str = ""
    body: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return every section by name, used or not."""
        return {name: getattr(self, name) for name in SECTIONS}

    def normalized(self) -> Sections:
        """Return the sections with Unix line ends and no surrounding blank space.

        Browsers post CRLF line ends; storing one form keeps the content hash stable.
        """
        return Sections(**{name: _normalize_text(text) for name, text in self.as_dict().items()})


def _normalize_text(text: str) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def is_late_entry(date_of_service: dt.date, signed_on: dt.date, late_entry_days: int) -> bool:
    """Return whether a note signed on `signed_on` is a late entry for its date of service."""
    return (signed_on - date_of_service).days > late_entry_days


@dataclasses.dataclass(frozen=True)
class AddressedDiagnosis:
    """A diagnosis a note addresses, as the note's rules see it: its code, whose it is, whether it is current.

    `current`: on the problem list (active or in remission) when the note's author chose it.
    """

    id: uuid.UUID
    code: str = ""
    patient_id: uuid.UUID | None = None
    current: bool = True


@dataclasses.dataclass(frozen=True)
class Addendum:
    """A correction or addition to a signed note: its own text and reason, signed when added."""

    note_id: uuid.UUID
    author: Staff
    text: str
    reason: str
    signed_at: dt.datetime | None = None
    content_hash: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    def compute_hash(self) -> str:
        """Return the SHA-256 of the addendum's canonical content."""
        return kernel.canonical_hash(
            {
                "scheme": ADDENDUM_HASH_SCHEME,
                "note_id": str(self.note_id),
                "author_id": self.author.id,
                "text": self.text,
                "reason": self.reason,
                "signed_at": kernel.utc_iso(self.signed_at) if self.signed_at else None,
            }
        )


@dataclasses.dataclass(frozen=True)
class ClinicalNote:
    """A clinical note about one patient, written by one clinician."""

    patient_id: uuid.UUID | None
    author: Staff
    kind: NoteKind
    format: NoteFormat
    date_of_service: dt.date | None
    sections: Sections = Sections()
    status: NoteStatus = NoteStatus.DRAFT
    signed_at: dt.datetime | None = None
    signed_by: Staff | None = None
    content_hash: str = ""
    late_entry: bool = False
    cosign_requested_from: Staff | None = None
    cosign_requested_at: dt.datetime | None = None
    cosigned_by: Staff | None = None
    cosigned_at: dt.datetime | None = None
    addenda: tuple[Addendum, ...] = ()
    diagnoses: tuple[AddressedDiagnosis, ...] = ()
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def is_signed(self) -> bool:
        """Return whether the note is signed (and so final)."""
        return self.status == NoteStatus.SIGNED

    @property
    def is_psychotherapy_note(self) -> bool:
        """Return whether this is a psychotherapy note, private to its author."""
        return self.kind == NoteKind.PSYCHOTHERAPY_NOTE

    @property
    def diagnosis_ids(self) -> frozenset[uuid.UUID]:
        """Return the ids of the diagnoses the note addresses."""
        return frozenset(diagnosis.id for diagnosis in self.diagnoses)

    @property
    def pending_cosigner_id(self) -> int | None:
        """Return the id of the supervisor asked to co-sign, while the request is pending."""
        return None if self.cosigned_by is not None else _staff_id(self.cosign_requested_from)

    def used_sections(self) -> tuple[str, ...]:
        """Return the names of the sections the note's format uses."""
        return SECTIONS_BY_FORMAT[self.format]

    def compute_hash(self) -> str:
        """Return the SHA-256 of the canonical content: sections, kind, format, date, patient, author, diagnoses.

        The diagnoses addressed count by id and code; a note that addresses none hashes as under
        the first scheme, which knew no diagnoses.
        """
        content = {
            "scheme": NOTE_HASH_SCHEME,
            "patient_id": str(self.patient_id),
            "author_id": self.author.id,
            "kind": self.kind.value,
            "format": self.format.value,
            "date_of_service": self.date_of_service.isoformat() if self.date_of_service else None,
            "sections": self.sections.as_dict(),
        }
        if self.diagnoses:
            content["scheme"] = NOTE_WITH_DIAGNOSES_HASH_SCHEME
            content["diagnoses"] = sorted(
                ({"id": str(diagnosis.id), "code": diagnosis.code} for diagnosis in self.diagnoses),
                key=lambda item: (item["code"], item["id"]),
            )
        return kernel.canonical_hash(content)

    def validated(self, *, today: dt.date) -> ClinicalNote:
        """Return a normalised copy, or raise RuleViolation naming every field at fault."""
        errors = Collector()
        note = dataclasses.replace(self, sections=self.sections.normalized())
        _check_content(errors, note, today)
        if note.is_signed and not (note.signed_at and note.signed_by and note.content_hash):
            errors.add(NON_FIELD, "A signed note needs its signature: who signed, when, and the content hash.")
        if note.cosigned_by and not note.is_signed:
            errors.add(NON_FIELD, "Only a signed note can be co-signed.")
        errors.raise_if_any()
        return note

    def signed(
        self,
        *,
        signer: Staff,
        at: dt.datetime,
        signed_on: dt.date,
        late_entry_days: int,
        require_diagnosis: bool = False,
    ) -> ClinicalNote:
        """Return this draft signed by `signer` at `at`, or raise RuleViolation.

        `signed_on` is the clinic's local date of `at`; a note signed more than
        `late_entry_days` after its date of service is flagged as a late entry. With
        `require_diagnosis`, a progress note must address at least one diagnosis.
        """
        errors = Collector()
        if self.is_signed:
            errors.add(NON_FIELD, "This note is already signed.")
        if signer.id != self.author.id:
            errors.add(NON_FIELD, f"Only the author, {self.author.username}, can sign this note.")
        note = dataclasses.replace(self, sections=self.sections.normalized())
        _check_content(errors, note, signed_on)
        for name in note.used_sections():
            if not getattr(note.sections, name):
                errors.add(name, "Write this section before signing: a signed note cannot be changed.")
        _check_addressed(errors, note, before_ids=note.diagnosis_ids)
        if require_diagnosis and note.kind == NoteKind.PROGRESS_NOTE and not note.diagnoses:
            errors.add("diagnoses", SIGN_NEEDS_DIAGNOSIS)
        errors.raise_if_any()
        return dataclasses.replace(
            note,
            status=NoteStatus.SIGNED,
            signed_at=at,
            signed_by=signer,
            late_entry=is_late_entry(note.date_of_service, signed_on, late_entry_days),
            content_hash=note.compute_hash(),
        )

    def with_cosignature_requested(self, *, requester: Staff, supervisor: Staff, at: dt.datetime) -> ClinicalNote:
        """Return the note with a co-signature requested from `supervisor`, or raise RuleViolation."""
        errors = Collector()
        if requester.id != self.author.id:
            errors.add(NON_FIELD, f"Only the author, {self.author.username}, can ask for a co-signature.")
        if self.is_psychotherapy_note:
            errors.add(NON_FIELD, "Psychotherapy notes are private to their author and are not co-signed.")
        if not self.is_signed:
            # The supervisor co-signs the final text, and the request lets them open the note:
            # a draft could still change under them.
            errors.add(NON_FIELD, "Sign the note before asking for a co-signature.")
        if self.cosigned_by is not None:
            errors.add(NON_FIELD, "This note is already co-signed.")
        elif self.cosign_requested_from is not None:
            errors.add(
                NON_FIELD,
                f"A co-signature is already requested from {self.cosign_requested_from.username}; "
                f"withdraw that request first to ask someone else.",
            )
        if supervisor.id == self.author.id:
            errors.add("cosign_requested_from", "The author cannot co-sign their own note.")
        elif not (supervisor.is_supervisor and supervisor.is_active):
            errors.add("cosign_requested_from", f"{supervisor.username} is not an active supervisor.")
        errors.raise_if_any()
        return dataclasses.replace(self, cosign_requested_from=supervisor, cosign_requested_at=at)

    def with_cosignature_withdrawn(self, *, requester: Staff) -> ClinicalNote:
        """Return the note with its pending co-signature request withdrawn, or raise RuleViolation.

        The supervisor who was asked can no longer open the note (see `read_decision`).
        """
        if requester.id != self.author.id:
            raise RuleViolation(f"Only the author, {self.author.username}, can withdraw a co-signature request.")
        if self.cosigned_by is not None:
            raise RuleViolation("This note is already co-signed; a co-signature cannot be withdrawn.")
        if self.cosign_requested_from is None:
            raise RuleViolation("No co-signature request is pending on this note.")
        return dataclasses.replace(self, cosign_requested_from=None, cosign_requested_at=None)

    def cosigned(self, *, cosigner: Staff, at: dt.datetime) -> ClinicalNote:
        """Return the note co-signed by `cosigner`, or raise RuleViolation."""
        errors = Collector()
        if self.is_psychotherapy_note:
            # A draft asked about and then made a psychotherapy note keeps its request: refuse here too.
            errors.add(NON_FIELD, "Psychotherapy notes are private to their author and are not co-signed.")
        if not self.is_signed:
            errors.add(NON_FIELD, "A draft cannot be co-signed: its author signs it first.")
        if self.cosigned_by is not None:
            errors.add(NON_FIELD, "This note is already co-signed.")
        if self.cosign_requested_from is None:
            errors.add(NON_FIELD, "No co-signature was requested for this note.")
        elif cosigner.id != self.cosign_requested_from.id:
            errors.add(NON_FIELD, f"Only {self.cosign_requested_from.username}, who was asked, can co-sign this note.")
        if not cosigner.is_supervisor:
            errors.add(NON_FIELD, f"{cosigner.username} is not a supervisor.")
        errors.raise_if_any()
        return dataclasses.replace(self, cosigned_by=cosigner, cosigned_at=at)

    def new_addendum(self, *, author: Staff, text: str, reason: str, at: dt.datetime) -> Addendum:
        """Return a signed addendum to this note by `author`, or raise RuleViolation."""
        errors = Collector()
        text, reason = _normalize_text(text), _normalize_text(reason)
        if not self.is_signed:
            errors.add(NON_FIELD, "An addendum can be added to a signed note only; edit the draft instead.")
        if not author.is_clinician:
            errors.add(NON_FIELD, f"Only clinicians can add addenda; {author.username} is not one.")
        if self.is_psychotherapy_note and author.id != self.author.id:
            errors.add(NON_FIELD, "Only the author can add to a psychotherapy note.")
        _check_text(errors, "text", text, SECTION_MAX, "Write the addendum.")
        _check_text(errors, "reason", reason, REASON_MAX, "Say why the addendum is needed.")
        errors.raise_if_any()
        addendum = Addendum(note_id=self.id, author=author, text=text, reason=reason, signed_at=at)
        return dataclasses.replace(addendum, content_hash=addendum.compute_hash())


def _check_text(errors: Collector, field: str, text: str, limit: int, missing: str) -> None:
    if not text:
        errors.add(field, missing)
    elif len(text) > limit:
        errors.add(field, f"Use at most {limit} characters (this has {len(text)}).")


def check_addressed(note: ClinicalNote, *, before_ids: frozenset = frozenset()) -> None:
    """Raise RuleViolation unless the note's diagnoses may be addressed by it.

    They are its patient's; one newly chosen (not in `before_ids`, what the note addressed
    already) is on the problem list; a psychotherapy note addresses none. A diagnosis resolved
    after it was chosen stays addressed: the visit was about it.
    """
    errors = Collector()
    _check_addressed(errors, note, before_ids=before_ids)
    errors.raise_if_any()


def _check_addressed(errors: Collector, note: ClinicalNote, *, before_ids: frozenset) -> None:
    found = []
    if note.diagnoses and note.is_psychotherapy_note:
        found.append(PSYCHOTHERAPY_NO_DIAGNOSES)
    for diagnosis in note.diagnoses:
        if diagnosis.patient_id is None or diagnosis.patient_id != note.patient_id:
            found.append(NOT_THIS_PATIENTS)
        elif diagnosis.id not in before_ids and not diagnosis.current:
            found.append(NOT_CURRENT)
    for message in dict.fromkeys(found):
        errors.add("diagnoses", message)


def _check_content(errors: Collector, note: ClinicalNote, today: dt.date) -> None:
    if note.patient_id is None:
        errors.add("patient", "Choose the patient this note is about.")
    if note.date_of_service is None:
        errors.add("date_of_service", "This field is required.")
    elif error := date_bounds_error(note.date_of_service, earliest=EARLIEST_DATE, latest=today):
        errors.add("date_of_service", error)
    if not note.is_signed and not note.author.is_clinician:
        errors.add(NON_FIELD, f"Only clinicians can write clinical notes; {note.author.username} is not one.")
    used = note.used_sections()
    for name, text in note.sections.as_dict().items():
        if name not in used and text:
            errors.add(
                name,
                f"A {note.format.label} note has no {SECTION_LABELS[name]} section: clear it or choose another format.",
            )
        elif len(text) > SECTION_MAX:
            errors.add(name, f"Use at most {SECTION_MAX} characters (this has {len(text)}).")


CONTENT_FIELDS = ("patient_id", "kind", "format", "date_of_service")
SIGNATURE_FIELDS = ("status", "signed_at", "signed_by", "content_hash", "late_entry")
COSIGNATURE_FIELDS = ("cosign_requested_from", "cosign_requested_at", "cosigned_by", "cosigned_at")


def _staff_id(staff: Staff | None) -> int | None:
    return staff.id if staff is not None else None


def _field_error_name(field: str) -> str:
    return "patient" if field == "patient_id" else field


def edit_refusal(note: ClinicalNote | NoteSummary, editor: Staff) -> str | None:
    """Return why `editor` may not edit the note's content, or None when they may."""
    if note.is_signed:
        return SIGNED_IS_FINAL
    if editor.id != note.author.id:
        return f"Only the author, {note.author.username}, can change this draft."
    return None


def check_write(before: ClinicalNote | None, after: ClinicalNote, *, editor: Staff) -> None:
    """Raise RuleViolation unless `editor` may turn `before` (None: a new note) into `after`.

    The one check every save of a note passes: a note starts as its author's draft; only the
    author changes a draft or signs it; a signed note's content and signature never change
    (and a note whose stored content no longer matches its hash cannot be saved at all); only
    the co-signature workflow may still move on a signed note.
    """
    errors = Collector()
    if before is None:
        if after.status != NoteStatus.DRAFT:
            errors.add(NON_FIELD, "A note is created as a draft and signed afterwards.")
        if after.author.id != editor.id:
            errors.add(NON_FIELD, "A note can be written only in its author's own name.")
        if after.cosigned_by is not None:
            errors.add(NON_FIELD, "A new note cannot be co-signed.")
        errors.raise_if_any()
        return
    if after.author.id != before.author.id:
        errors.add(NON_FIELD, "The author of a note cannot be changed.")
    content_changed = [name for name in CONTENT_FIELDS if getattr(before, name) != getattr(after, name)] + [
        name for name in SECTIONS if getattr(before.sections, name) != getattr(after.sections, name)
    ]
    if before.diagnosis_ids != after.diagnosis_ids:
        content_changed.append("diagnoses")
    if before.is_signed:
        for name in content_changed:
            errors.add(_field_error_name(name), SIGNED_IS_FINAL)
        if any(_comparable(before, name) != _comparable(after, name) for name in SIGNATURE_FIELDS):
            errors.add(NON_FIELD, "The signature of a signed note cannot be changed or withdrawn.")
        elif not content_changed and after.compute_hash() != before.content_hash:
            errors.add(
                NON_FIELD,
                "This note's stored content no longer matches the hash taken when it "
                "was signed (it was changed outside NovaMind), so it cannot be saved. "
                "Run verify_notes and report it to the privacy officer.",
            )
    else:
        if (content_changed or after.is_signed) and editor.id != before.author.id:
            errors.add(NON_FIELD, f"Only the author, {before.author.username}, can change this draft.")
        if after.is_signed:
            if _staff_id(after.signed_by) != before.author.id:
                errors.add(NON_FIELD, f"Only the author, {before.author.username}, can sign this note.")
            if after.content_hash != after.compute_hash():
                errors.add(NON_FIELD, "The content hash does not match the content being signed.")
        elif any(getattr(after, name) for name in ("signed_at", "signed_by", "content_hash")):
            errors.add(NON_FIELD, "A draft carries no signature.")
    _check_cosignature_write(errors, before, after, editor)
    errors.raise_if_any()


def _comparable(note: ClinicalNote, name: str):
    value = getattr(note, name)
    return value.id if isinstance(value, Staff) else value


def _check_cosignature_write(errors: Collector, before: ClinicalNote, after: ClinicalNote, editor: Staff) -> None:
    if _staff_id(after.cosign_requested_from) != _staff_id(before.cosign_requested_from):
        if before.cosigned_by is not None:
            errors.add(NON_FIELD, "The note is already co-signed.")
        elif editor.id != before.author.id:
            errors.add(NON_FIELD, "Only the author can ask for a co-signature.")
        elif before.cosign_requested_from is not None and after.cosign_requested_from is not None:
            # The request is what lets the supervisor open the note: it moves only by an
            # explicit withdrawal, never by overwriting it with another name.
            errors.add(NON_FIELD, "A co-signature request is pending; withdraw it before asking someone else.")
    if _staff_id(after.cosigned_by) != _staff_id(before.cosigned_by):
        if before.cosigned_by is not None:
            errors.add(NON_FIELD, "A co-signature cannot be changed or withdrawn.")
        elif (
            not after.is_signed
            or _staff_id(after.cosigned_by) != _staff_id(before.cosign_requested_from)
            or editor.id != _staff_id(after.cosigned_by)
        ):
            errors.add(NON_FIELD, "Only the supervisor who was asked can co-sign, and only a signed note.")


def check_discard(note: ClinicalNote, *, editor: Staff) -> None:
    """Raise RuleViolation unless `editor` may discard the note (their own draft)."""
    if note.is_signed:
        raise RuleViolation(
            "A signed note is part of the legal record and cannot be deleted; add an addendum to correct it."
        )
    if editor.id != note.author.id:
        raise RuleViolation(f"Only the author, {note.author.username}, can discard this draft.")


@dataclasses.dataclass(frozen=True)
class Authorization:
    """Permission for one person other than the author to read one psychotherapy note, for a while."""

    note_id: uuid.UUID
    grantee: Staff
    granted_by: Staff
    reason: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: Staff | None = None
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    def is_active(self, now: dt.datetime) -> bool:
        """Return whether the authorization may be used at `now`."""
        return self.revoked_at is None and now < self.expires_at

    def revoked(self, *, by: Staff, at: dt.datetime, note_author: Staff) -> Authorization:
        """Return the authorization revoked by `by`, or raise RuleViolation."""
        if self.revoked_at is not None:
            raise RuleViolation("This authorization is already revoked.")
        if by.id not in (self.granted_by.id, note_author.id) and not by.is_superuser:
            raise RuleViolation("Only whoever granted it, the note's author or a privacy officer can revoke it.")
        return dataclasses.replace(self, revoked_at=at, revoked_by=by)


def new_authorization(
    note: ClinicalNote,
    *,
    grantee: Staff,
    granted_by: Staff,
    reason: str,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> Authorization:
    """Return an authorization for `grantee` to read `note`, or raise RuleViolation.

    Only the note's author or a superuser (the privacy officer) grants it, never to themselves:
    reading someone else's psychotherapy note always takes a second person.
    """
    errors = Collector()
    reason = _normalize_text(reason)
    if not note.is_psychotherapy_note:
        errors.add(NON_FIELD, "Only psychotherapy notes need an authorization to be read.")
    elif not note.is_signed:
        errors.add(NON_FIELD, "Sign the psychotherapy note before sharing it: a draft stays with its author.")
    if granted_by.id != note.author.id and not granted_by.is_superuser:
        errors.add(NON_FIELD, "Only the note's author or a privacy officer (superuser) can grant access.")
    if grantee.id == granted_by.id:
        errors.add("grantee", "Nobody can authorize themselves: another person must grant access.")
    elif grantee.id == note.author.id:
        errors.add("grantee", "The author can already read their own note.")
    elif not grantee.is_active:
        errors.add("grantee", f"{grantee.username} is not an active user.")
    _check_text(errors, "reason", reason, REASON_MAX, "Say why this person needs to read the note.")
    if expires_at is None:
        errors.add("expires_at", "This field is required.")
    elif expires_at <= now:
        errors.add("expires_at", "The authorization must end in the future.")
    elif expires_at > now + dt.timedelta(days=AUTHORIZATION_MAX_DAYS):
        errors.add("expires_at", f"An authorization lasts at most {AUTHORIZATION_MAX_DAYS} days.")
    errors.raise_if_any()
    return Authorization(note_id=note.id, grantee=grantee, granted_by=granted_by, reason=reason, expires_at=expires_at)


@dataclasses.dataclass(frozen=True)
class ReadDecision:
    """Whether a reader may see a note's content, and what allows it.

    `authorization`: the psychotherapy-note authorization used, if any. `for_cosignature`: the
    reader is not on the patient's care team and is let in only as the supervisor asked to
    co-sign this note. `outside_care`: refused because the reader may not see the patient and
    holds no co-signature request for this note (the note does not exist for them).
    """

    allowed: bool
    authorization: Authorization | None = None
    for_cosignature: bool = False
    outside_care: bool = False


# What the supervisor asked to co-sign a note may do with it when they are not on the patient's
# care team: open it (its page and its history) and co-sign it. Not add to it, not revert it, and
# nothing of the patient's other records.
COSIGNER_ACTIONS = frozenset({"read", "history", "co-sign"})


def awaits_cosignature_by(note: ClinicalNote | NoteSummary, reader: Staff) -> bool:
    """Return whether `note` waits for `reader`'s co-signature: a pending request names them.

    Pending: asked and not yet co-signed (a withdrawn request names nobody). `reader` must still
    be an active supervisor (role and profile, see models.supervisor_of). Psychotherapy notes
    are never co-signed, so they never wait.
    """
    return (
        note.pending_cosigner_id is not None
        and note.pending_cosigner_id == reader.id
        and not note.is_psychotherapy_note
        and reader.is_supervisor
        and reader.is_active
    )


def read_decision(
    note: ClinicalNote | NoteSummary,
    *,
    reader: Staff,
    authorizations: list[Authorization],
    now: dt.datetime,
    in_care: bool = True,
    action: str = "read",
) -> ReadDecision:
    """Decide whether `reader` may `action` the note.

    `in_care` is the access policy's answer for the note's patient (patients.policy: care team,
    emergency grant, or a role that is not restricted). Outside it, only the supervisor a
    pending co-signature request names may open the note, for the COSIGNER_ACTIONS only: the
    author's request is an explicit delegation of that one note. Psychotherapy notes are read
    only by their author or someone they authorized.
    """
    if not in_care:
        if action in COSIGNER_ACTIONS and awaits_cosignature_by(note, reader):
            return ReadDecision(allowed=True, for_cosignature=True)
        return ReadDecision(allowed=False, outside_care=True)
    if not note.is_psychotherapy_note or reader.id == note.author.id:
        return ReadDecision(allowed=True)
    for authorization in authorizations:
        if authorization.note_id == note.id and authorization.grantee.id == reader.id and authorization.is_active(now):
            return ReadDecision(allowed=True, authorization=authorization)
    return ReadDecision(allowed=False)


@dataclasses.dataclass(frozen=True)
class NoteSummary:
    """A note as a list shows it: everything but its text, so listing decrypts nothing."""

    id: uuid.UUID
    patient_id: uuid.UUID
    author: Staff
    kind: NoteKind
    format: NoteFormat
    date_of_service: dt.date
    status: NoteStatus
    signed_at: dt.datetime | None
    late_entry: bool
    cosigned: bool
    addenda_count: int
    cosign_requested_from_id: int | None = None

    @property
    def is_psychotherapy_note(self) -> bool:
        """Return whether this is a psychotherapy note, private to its author."""
        return self.kind == NoteKind.PSYCHOTHERAPY_NOTE

    @property
    def is_signed(self) -> bool:
        """Return whether the note is signed (and so final)."""
        return self.status == NoteStatus.SIGNED

    @property
    def pending_cosigner_id(self) -> int | None:
        """Return the id of the supervisor asked to co-sign, while the request is pending."""
        return None if self.cosigned else self.cosign_requested_from_id
