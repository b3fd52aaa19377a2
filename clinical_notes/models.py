"""Clinical notes, their addenda, the diagnoses they address and psychotherapy-note authorizations.

Every piece of clinical text is encrypted; only what lists, filters and the workflow need (the
patient, author, kind, format, date of service, status and signature) is stored in plaintext. A
note's link to a diagnosis holds the two keys only: the code stays encrypted on the diagnosis.
"""

import dataclasses

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.functional import lazy

from clinical_notes import domain
from diagnoses import domain as diagnoses_domain
from novamind import encryption
from novamind.domain import RuleViolation
from novamind.models import AnonymousWriteError, AuditedModel, AuditedQuerySet, UnauditedWriteError

PSYCHOTHERAPY = domain.NoteKind.PSYCHOTHERAPY_NOTE.value


def _late_entry_help() -> str:
    days = settings.NOVAMIND_LATE_ENTRY_DAYS
    return f"Signed more than {days} day{'' if days == 1 else 's'} after the date of service."


# Read when a page shows it, so it says the clinic's number of days. A migration keeps the text
# as it read with the default (3 days); a clinic with another number is told by `migrate` that
# the models changed, a help text only: no migration is needed.
LATE_ENTRY_HELP = lazy(_late_entry_help, str)()
COSIGN_PERMISSION = "clinical_notes.cosign_clinicalnote"
USER = settings.AUTH_USER_MODEL


def staff_of(user) -> domain.Staff:
    """Return the domain view of a user: identity and the roles the note rules ask about."""
    try:
        profile = user.staff_profile
    except ObjectDoesNotExist:
        profile = None
    return domain.Staff(
        id=user.pk,
        username=user.get_username(),
        is_clinician=bool(profile and profile.is_clinician),
        is_supervisor=bool(profile and profile.is_supervisor),
        is_superuser=user.is_superuser,
        is_active=user.is_active,
    )


def supervisor_of(user) -> domain.Staff:
    """Return `user` as a co-signer: a supervisor only with the supervisor role as well."""
    staff = staff_of(user)
    return dataclasses.replace(staff, is_supervisor=staff.is_supervisor and user.has_perm(COSIGN_PERMISSION))


def _staff_or_none(user):
    return staff_of(user) if user is not None else None


class NoteQuerySet(AuditedQuerySet):
    """Notes as the application may query them: no bulk delete, psychotherapy notes kept apart."""

    def delete(self):
        raise UnauditedWriteError(
            f"{self.model.__name__}.objects.delete() records no history row and no actor, and would "
            f"remove signed notes; discard a draft through the repository."
        )

    delete.queryset_only = True

    def general(self):
        """Return the notes that belong to the patient's general record (no psychotherapy notes)."""
        return self.exclude(kind=PSYCHOTHERAPY)

    def psychotherapy_readable_by(self, user, now=None):
        """Return the psychotherapy notes `user` wrote or holds an active authorization for."""
        return self.filter(kind=PSYCHOTHERAPY).filter(_psychotherapy_reader(user, now))

    def readable_by(self, user, now=None):
        """Return the general notes and the psychotherapy notes `user` may read.

        One condition added to the queryset's own: `general() | psychotherapy_readable_by()`
        repeated the queryset's conditions on both sides of an OR, and the care filter inside
        them could then no longer be joined from the caseload's side (PostgreSQL scanned every
        note: 290 ms for a clinician's list at 500,000 notes).
        """
        return self.filter(~Q(kind=PSYCHOTHERAPY) | _psychotherapy_reader(user, now))

    def awaiting_cosignature_by(self, user):
        """Return the notes waiting for `user`'s co-signature: asked, not yet co-signed, never psychotherapy.

        Read from the index `clinical_note_cosign_queue`. Whether `user` is still a supervisor is
        the caller's question (domain.awaits_cosignature_by asks it of one note).
        """
        return self.filter(cosign_requested_from=user, cosigned_by__isnull=True).exclude(kind=PSYCHOTHERAPY)

    def with_patient_mrn(self):
        """Return the notes annotated with their patient's MRN, without loading the patient."""
        return self.annotate(patient_mrn=models.F("patient__mrn"))

    def without_text(self):
        """Return the notes without their encrypted columns, so nothing is decrypted."""
        return self.defer(*domain.SECTIONS)


NoteManager = models.Manager.from_queryset(NoteQuerySet)


def _psychotherapy_reader(user, now=None) -> Q:
    """Return the condition, on notes, that `user` wrote the note or holds an active authorization for it."""
    authorized = PsychotherapyNoteAuthorization.objects.filter(
        note=OuterRef("pk"),
        grantee=user,
        revoked_at__isnull=True,
        expires_at__gt=now or timezone.now(),
    )
    return Q(author=user) | Q(Exists(authorized))


class ClinicalNote(AuditedModel):
    """A clinical note: drafted by a clinician, then signed, after which it never changes.

    The text lives in encrypted sections: SOAP uses subjective, objective, assessment and plan;
    DAP uses data, assessment and plan; a free-text note uses the body. `content_hash` is the
    SHA-256 of the content taken at signing; `verify_notes` recomputes it.
    """

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="clinical_notes",
    )
    author = models.ForeignKey(
        USER,
        verbose_name="author",
        on_delete=models.PROTECT,
        related_name="authored_clinical_notes",
        editable=False,
        help_text="The clinician who wrote the note; only they can change or sign it.",
    )
    kind = models.CharField(
        "kind",
        max_length=20,
        choices=[(k.value, k.label) for k in domain.NoteKind],
        default=domain.NoteKind.PROGRESS_NOTE.value,
        help_text="Psychotherapy notes are the therapist's private process notes: only their "
        "author can read them, and they are kept out of the patient's other note lists.",
    )
    format = models.CharField(
        "format",
        max_length=10,
        choices=[(f.value, f.label) for f in domain.NoteFormat],
        default=domain.NoteFormat.SOAP.value,
        help_text="SOAP: subjective, objective, assessment, plan. DAP: data, assessment, plan. "
        "Free text: the note field only.",
    )
    date_of_service = models.DateField("date of service", help_text="The day the patient was seen.")
    subjective = encryption.EncryptedTextField("subjective", blank=True, help_text="SOAP: what the patient reports.")
    objective = encryption.EncryptedTextField(
        "objective", blank=True, help_text="SOAP: what the clinician observes (mental status, measures)."
    )
    data = encryption.EncryptedTextField("data", blank=True, help_text="DAP: what was reported and observed.")
    assessment = encryption.EncryptedTextField(
        "assessment", blank=True, help_text="SOAP and DAP: the clinician's assessment."
    )
    plan = encryption.EncryptedTextField("plan", blank=True, help_text="SOAP and DAP: the plan and next steps.")
    body = encryption.EncryptedTextField("note", blank=True, help_text="Free text notes only.")
    status = models.CharField(
        "status",
        max_length=10,
        db_index=True,
        editable=False,
        choices=[(s.value, s.value.capitalize()) for s in domain.NoteStatus],
        default=domain.NoteStatus.DRAFT.value,
        help_text="Changed by signing only: a signed note is final.",
    )
    signed_at = models.DateTimeField("signed", null=True, blank=True, editable=False)
    signed_by = models.ForeignKey(
        USER,
        verbose_name="signed by",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    content_hash = models.CharField(
        "content hash",
        max_length=64,
        blank=True,
        editable=False,
        help_text="SHA-256 of the content taken at signing; verify_notes recomputes it.",
    )
    late_entry = models.BooleanField(
        "late entry",
        default=False,
        editable=False,
        help_text=LATE_ENTRY_HELP,
    )
    cosign_requested_from = models.ForeignKey(
        USER,
        verbose_name="co-signature requested from",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    cosign_requested_at = models.DateTimeField("co-signature requested", null=True, blank=True, editable=False)
    cosigned_by = models.ForeignKey(
        USER,
        verbose_name="co-signed by",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    cosigned_at = models.DateTimeField("co-signed", null=True, blank=True, editable=False)
    addressed_diagnoses = models.ManyToManyField(
        "diagnoses.Diagnosis",
        verbose_name="diagnoses addressed",
        through="AddressedDiagnosis",
        related_name="clinical_notes",
        blank=True,
        help_text="From the patient's problem list; fixed when the note is signed (its hash covers their codes).",
    )

    objects = NoteManager()

    class Meta:
        verbose_name = "clinical note"
        ordering = ["-date_of_service", "-created_at"]
        # The supervisor role (novamind.roles); the staff profile must also say supervisor.
        permissions = [("cosign_clinicalnote", "Can co-sign clinical notes")]
        indexes = [
            models.Index(fields=["patient", "kind", "date_of_service"], name="clinical_note_patient_kind"),
            models.Index(fields=["author", "status"], name="clinical_note_author_status"),
            # The admin list's order (Django adds the pk to make it total): its first page is read
            # from this index instead of sorting every note the user may see.
            models.Index(fields=["-date_of_service", "-created_at", "-id"], name="clinical_note_list_order"),
            # The dashboard's late drafts, each author's oldest first, read from the index alone
            # (kind and patient included on PostgreSQL) instead of from every draft's row.
            models.Index(
                fields=["author", "date_of_service", "id"],
                include=["kind", "patient"],
                condition=Q(status=domain.NoteStatus.DRAFT.value),
                name="clinical_note_drafts_by_author",
            ),
            # A care-restricted viewer's late drafts, joined from their caseload's side: a probe
            # per patient instead of a scan of every late draft of the clinic.
            models.Index(
                fields=["patient", "date_of_service"],
                include=["author", "kind"],
                condition=Q(status=domain.NoteStatus.DRAFT.value),
                name="clinical_note_patient_drafts",
            ),
            # A supervisor's co-signature queue, oldest request first (selectors.notes_awaiting_cosignature);
            # only the pending requests are in it, so it stays as small as the queues are.
            models.Index(
                fields=["cosign_requested_from", "cosign_requested_at", "id"],
                condition=Q(cosign_requested_from__isnull=False, cosigned_by__isnull=True),
                name="clinical_note_cosign_queue",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in domain.NoteStatus]),
                name="clinical_note_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in domain.NoteKind]),
                name="clinical_note_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(format__in=[f.value for f in domain.NoteFormat]),
                name="clinical_note_format_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="draft", signed_at__isnull=True, signed_by__isnull=True, content_hash="")
                    | (Q(status="signed", signed_at__isnull=False, signed_by__isnull=False) & ~Q(content_hash=""))
                ),
                name="clinical_note_signature_complete",
            ),
            models.CheckConstraint(
                condition=Q(cosigned_by__isnull=True) | Q(status="signed", cosigned_at__isnull=False),
                name="clinical_note_cosigned_when_signed",
            ),
        ]

    def __str__(self):
        # The admin log keeps str(obj) in plaintext: an id, never the kind, patient or text.
        return f"clinical note {str(self.pk)[:8]}" if self.pk else "new clinical note"

    def clean(self):
        if self.author_id is None:
            raise ValidationError("A note needs an author.")
        try:
            note = self.to_domain(with_audit=False)
        except ValueError:
            return  # an unknown kind, format or status: clean_fields reports it next to the field
        try:
            note = note.validated(today=timezone.localdate())
        except RuleViolation as violation:
            raise ValidationError(violation.errors) from None
        self.update_from_domain(note)

    def save(self, *args, **kwargs):
        actor = self.__dict__.get("_actor")
        if actor is None:
            raise AnonymousWriteError("Save clinical notes with novamind.audit.audited_save(…, actor=…).")
        with transaction.atomic():
            stored = None
            if not self._state.adding:
                stored = type(self)._base_manager.select_for_update().filter(pk=self.pk).first()
            # The backstop of every path (admin, repository, history revert, code): a signed
            # note's content and signature never change, and only the author edits a draft.
            domain.check_write(
                stored.to_domain(with_audit=False) if stored is not None else None,
                self.to_domain(with_audit=False),
                editor=staff_of(actor),
            )
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        editor = self.__dict__.get("_history_user")
        if editor is None:
            raise AnonymousWriteError("Set the discarding user as _history_user so the history row names them.")
        with transaction.atomic():
            stored = type(self)._base_manager.select_for_update().get(pk=self.pk)
            domain.check_discard(stored.to_domain(with_audit=False), editor=staff_of(editor))
            return super().delete(*args, **kwargs)

    def addressed(self, *, code_of=None) -> tuple[domain.AddressedDiagnosis, ...]:
        """Return the diagnoses the note addresses (prefetched as `diagnosis_links`, else read), by code.

        `code_of(link)`, if given, reads each diagnosis's code instead of its column (a check that
        decrypts the ciphertext itself, so that one undecryptable code is reported, not raised).
        """
        if self._state.adding or self.pk is None:
            return ()
        cache = getattr(self, "_prefetched_objects_cache", {})
        links = (
            cache["diagnosis_links"] if "diagnosis_links" in cache else self.diagnosis_links.select_related("diagnosis")
        )
        return tuple(
            sorted(
                (link.to_domain(code=None if code_of is None else code_of(link)) for link in links),
                key=lambda item: (item.code, str(item.id)),
            )
        )

    def to_domain(self, *, with_audit=True, addenda=(), sections=None, diagnoses=None) -> domain.ClinicalNote:
        """Return the domain note this row holds (with `sections` or `diagnoses`, those instead of the stored ones)."""
        if sections is None:
            sections = domain.Sections(**{name: getattr(self, name) or "" for name in domain.SECTIONS})
        return domain.ClinicalNote(
            id=self.id if not self._state.adding else None,
            patient_id=self.patient_id,
            author=staff_of(self.author),
            kind=domain.NoteKind(self.kind),
            format=domain.NoteFormat(self.format),
            date_of_service=self.date_of_service,
            sections=sections,
            status=domain.NoteStatus(self.status),
            signed_at=self.signed_at,
            signed_by=_staff_or_none(self.signed_by),
            content_hash=self.content_hash,
            late_entry=self.late_entry,
            cosign_requested_from=_staff_or_none(self.cosign_requested_from),
            cosign_requested_at=self.cosign_requested_at,
            cosigned_by=_staff_or_none(self.cosigned_by),
            cosigned_at=self.cosigned_at,
            addenda=tuple(addenda),
            diagnoses=self.addressed() if diagnoses is None else tuple(diagnoses),
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def to_summary(self) -> domain.NoteSummary:
        """Return the note as lists show it, without touching its encrypted columns."""
        return domain.NoteSummary(
            id=self.id,
            patient_id=self.patient_id,
            author=staff_of(self.author),
            kind=domain.NoteKind(self.kind),
            format=domain.NoteFormat(self.format),
            date_of_service=self.date_of_service,
            status=domain.NoteStatus(self.status),
            signed_at=self.signed_at,
            late_entry=self.late_entry,
            cosigned=self.cosigned_by_id is not None,
            addenda_count=getattr(self, "addenda_count", None) or 0,
            cosign_requested_from_id=self.cosign_requested_from_id,
        )

    def update_from_domain(self, note: domain.ClinicalNote) -> None:
        """Copy the editable content of `note` onto this row (never its author or signature)."""
        self.patient_id = note.patient_id
        self.kind = note.kind.value
        self.format = note.format.value
        self.date_of_service = note.date_of_service
        for name, text in note.sections.as_dict().items():
            setattr(self, name, text)

    def record_workflow(self, note: domain.ClinicalNote) -> None:
        """Copy the signature and co-signature of `note`, as a workflow step produced them."""
        self.status = note.status.value
        self.signed_at = note.signed_at
        self.signed_by_id = note.signed_by.id if note.signed_by else None
        self.content_hash = note.content_hash
        self.late_entry = note.late_entry
        self.cosign_requested_from_id = note.cosign_requested_from.id if note.cosign_requested_from else None
        self.cosign_requested_at = note.cosign_requested_at
        self.cosigned_by_id = note.cosigned_by.id if note.cosigned_by else None
        self.cosigned_at = note.cosigned_at


class AddressedDiagnosis(AuditedModel):
    """One diagnosis a note addresses: a link with a history of its own (who added it, who took it off a draft).

    Written only while the note is a draft, by its author (the notes' services); a signed note's
    links never change, and its content hash covers their codes, so `verify_notes` finds one
    changed behind the application.
    """

    note = models.ForeignKey(
        ClinicalNote, verbose_name="note", on_delete=models.PROTECT, related_name="diagnosis_links"
    )
    diagnosis = models.ForeignKey(
        "diagnoses.Diagnosis", verbose_name="diagnosis", on_delete=models.PROTECT, related_name="note_links"
    )

    class Meta:
        verbose_name = "addressed diagnosis"
        verbose_name_plural = "addressed diagnoses"
        constraints = [
            models.UniqueConstraint(fields=["note", "diagnosis"], name="clinical_note_diagnosis_once"),
        ]

    def __str__(self):
        return f"addressed diagnosis {str(self.pk)[:8]}" if self.pk else "new addressed diagnosis"

    def save(self, *args, **kwargs):
        self._refuse_on_signed_note()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_on_signed_note()
        return super().delete(*args, **kwargs)

    def _refuse_on_signed_note(self):
        # The backstop of every path: the services refuse it first, with the field to show it on.
        status = ClinicalNote._base_manager.filter(pk=self.note_id).values_list("status", flat=True).first()
        if status == domain.NoteStatus.SIGNED.value:
            raise RuleViolation({"diagnoses": [domain.SIGNED_IS_FINAL]})

    def to_domain(self, *, code=None) -> domain.AddressedDiagnosis:
        """Return the addressed diagnosis as the note's rules see it (with `code`, that code instead of the stored one)."""
        diagnosis = self.diagnosis
        return domain.AddressedDiagnosis(
            id=diagnosis.pk,
            code=(diagnosis.code or "") if code is None else code,
            patient_id=diagnosis.patient_id,
            current=diagnosis.status in {status.value for status in diagnoses_domain.CURRENT_STATUSES},
        )


class Addendum(AuditedModel):
    """A correction or addition to a signed note: its own text and reason, signed when added.

    Addenda are never edited or deleted; a later addendum corrects an earlier one.
    """

    note = models.ForeignKey(ClinicalNote, verbose_name="note", on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(USER, verbose_name="author", on_delete=models.PROTECT, related_name="+")
    text = encryption.EncryptedTextField("text")
    reason = encryption.EncryptedTextField("reason", help_text="Why the note needed an addendum.")
    signed_at = models.DateTimeField("signed", default=timezone.now)
    content_hash = models.CharField(
        "content hash", max_length=64, help_text="SHA-256 of the addendum, taken when it was added."
    )

    objects = NoteManager()

    class Meta:
        verbose_name = "addendum"
        verbose_name_plural = "addenda"
        ordering = ["signed_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(content_hash=""), name="clinical_addendum_hash_present"),
        ]

    def __str__(self):
        return f"addendum {str(self.pk)[:8]}" if self.pk else "new addendum"

    def clean(self):
        if self.note_id is None or self.author_id is None:
            return  # clean_fields reports the missing note or author
        try:
            self.note.to_domain(with_audit=False).new_addendum(
                author=staff_of(self.author),
                text=self.text,
                reason=self.reason,
                at=self.signed_at,
            )
        except RuleViolation as violation:
            raise ValidationError(violation.errors) from None

    def save(self, *args, **kwargs):
        actor = self.__dict__.get("_actor")
        if actor is None:
            raise AnonymousWriteError("Save addenda with novamind.audit.audited_save(…, actor=…).")
        if not self._state.adding:
            raise RuleViolation(
                "An addendum is signed when it is added and can never be changed; add another addendum instead."
            )
        if self.author_id != actor.pk:
            raise RuleViolation("An addendum can be written only in its author's own name.")
        if self.content_hash != self.to_domain().compute_hash():
            raise RuleViolation("The addendum's hash does not match its content.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuleViolation("An addendum is part of the legal record and cannot be deleted.")

    def to_domain(self, *, with_text=True) -> domain.Addendum:
        """Return the domain addendum this row holds (without reading its text, if asked)."""
        return domain.Addendum(
            id=self.id if not self._state.adding else None,
            note_id=self.note_id,
            author=staff_of(self.author),
            text=self.text if with_text else "",
            reason=self.reason if with_text else "",
            signed_at=self.signed_at,
            content_hash=self.content_hash,
            audit=self.audit_info() if not self._state.adding else None,
        )


class PsychotherapyNoteAuthorization(AuditedModel):
    """Permission for one staff member other than the author to read one psychotherapy note.

    Granted by the author or a privacy officer (superuser), never to oneself, for at most
    AUTHORIZATION_MAX_DAYS days; every read made under it is written to the access log.
    """

    note = models.ForeignKey(
        ClinicalNote,
        verbose_name="psychotherapy note",
        on_delete=models.PROTECT,
        related_name="authorizations",
    )
    grantee = models.ForeignKey(USER, verbose_name="granted to", on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(USER, verbose_name="granted by", on_delete=models.PROTECT, related_name="+")
    reason = encryption.EncryptedTextField("reason", help_text="Why this person needs to read the note.")
    expires_at = models.DateTimeField("expires", db_index=True)
    revoked_at = models.DateTimeField("revoked", null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        USER,
        verbose_name="revoked by",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    objects = NoteManager()

    class Meta:
        verbose_name = "psychotherapy note authorization"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(grantee=models.F("granted_by")), name="clinical_authorization_not_self"
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="clinical_authorization_revocation_complete",
            ),
        ]

    def __str__(self):
        return f"psychotherapy note authorization {str(self.pk)[:8]}" if self.pk else "new authorization"

    def clean(self):
        if not self._state.adding or None in (self.note_id, self.grantee_id, self.granted_by_id):
            return
        try:
            domain.new_authorization(
                self.note.to_domain(with_audit=False),
                grantee=staff_of(self.grantee),
                granted_by=staff_of(self.granted_by),
                reason=self.reason,
                expires_at=self.expires_at,
                now=timezone.now(),
            )
        except RuleViolation as violation:
            raise ValidationError(violation.errors) from None

    def save(self, *args, **kwargs):
        actor = self.__dict__.get("_actor")
        if actor is None:
            raise AnonymousWriteError("Save authorizations with novamind.audit.audited_save(…, actor=…).")
        with transaction.atomic():
            if self._state.adding:
                if self.granted_by_id != actor.pk:
                    raise RuleViolation("An authorization is granted only in the granter's own name.")
            else:
                stored = type(self)._base_manager.select_for_update().get(pk=self.pk)
                fixed = ("note_id", "grantee_id", "granted_by_id", "reason", "expires_at")
                if any(getattr(stored, name) != getattr(self, name) for name in fixed) or stored.revoked_at:
                    raise RuleViolation("An authorization cannot be changed, only revoked once.")
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuleViolation("Authorizations are kept as a record; revoke one instead of deleting it.")

    def to_domain(self) -> domain.Authorization:
        """Return the domain authorization this row holds."""
        return domain.Authorization(
            id=self.id if not self._state.adding else None,
            note_id=self.note_id,
            grantee=staff_of(self.grantee),
            granted_by=staff_of(self.granted_by),
            reason=self.reason,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
            revoked_by=_staff_or_none(self.revoked_by),
            audit=self.audit_info() if not self._state.adding else None,
        )
