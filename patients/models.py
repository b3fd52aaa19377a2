"""The patient table: every identifying field encrypted, searchable through blind indexes."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from novamind import blind_index, encryption
from novamind.domain import RuleViolation
from novamind.models import AuditedModel
from patients import domain

ENCRYPTED_NAME = dict(max_length=domain.NAME_MAX, blank=True)
LEGAL_HOLD_COLUMNS = ("legal_hold", "legal_hold_reason", "legal_hold_changed_by_id", "legal_hold_changed_at")
MRN_ATTEMPTS = 20  # ten million numbers: a clash is rare, twenty in a row is not going to happen
# The prefixes staff can search by (README, "Security model"): 3 to 6 letters of the last name,
# its first 3 with the birth year, and 3 of the first name. Longer searches look up the first 6
# letters, so no prefix index says more about a last name than its exact index already does.
LAST_NAME_PREFIXES = range(blind_index.PREFIX_MIN, 7)
YEAR_PREFIX = blind_index.PREFIX_MIN
GIVEN_NAME_PREFIX = blind_index.PREFIX_MIN


def unused_mrn() -> str:
    """Return a random MRN no patient has yet; the unique constraint backs this up."""
    for _ in range(MRN_ATTEMPTS):
        mrn = domain.generate_mrn()
        if not Patient.objects.filter(mrn=mrn).exists():
            return mrn
    raise RuntimeError("Could not draw an unused medical record number.")


class Patient(AuditedModel):
    """A patient of the clinic. Only the MRN and the status are stored in plaintext."""

    mrn = models.CharField(
        "medical record number",
        max_length=12,
        unique=True,
        editable=False,
        default=unused_mrn,
        help_text="Assigned by NovaMind; random, never derived from the patient's details.",
    )
    legal_first_name = encryption.EncryptedCharField("legal first name", max_length=domain.NAME_MAX)
    legal_last_name = encryption.EncryptedCharField("legal last name", max_length=domain.NAME_MAX)
    preferred_name = encryption.EncryptedCharField(
        "preferred name", **ENCRYPTED_NAME, help_text="The name staff should use when addressing the patient."
    )
    pronouns = encryption.EncryptedCharField(
        "pronouns", max_length=40, blank=True, help_text="For example she/her, he/him, they/them."
    )
    date_of_birth = encryption.EncryptedDateField("date of birth")
    sex_assigned_at_birth = encryption.EncryptedCharField(
        "sex assigned at birth",
        max_length=10,
        choices=[
            (s.value, s.value.capitalize() if s != domain.SexAssignedAtBirth.DECLINED else "Declined to answer")
            for s in domain.SexAssignedAtBirth
        ],
        default=domain.SexAssignedAtBirth.UNKNOWN.value,
    )
    gender_identity = encryption.EncryptedCharField(
        "gender identity", **ENCRYPTED_NAME, help_text="In the patient's own words."
    )
    phone = encryption.EncryptedCharField(
        "phone", max_length=32, blank=True, help_text="Stored in international (E.164) form."
    )
    email = encryption.EncryptedEmailField("e-mail", max_length=254, blank=True)
    address_line1 = encryption.EncryptedCharField("address line 1", max_length=200, blank=True)
    address_line2 = encryption.EncryptedCharField("address line 2", max_length=200, blank=True)
    address_city = encryption.EncryptedCharField("city", max_length=200, blank=True)
    address_region = encryption.EncryptedCharField("state or region", max_length=200, blank=True)
    address_postal_code = encryption.EncryptedCharField("postal code", max_length=200, blank=True)
    address_country = encryption.EncryptedCharField("country", max_length=200, blank=True)
    emergency_contact_name = encryption.EncryptedCharField("emergency contact", **ENCRYPTED_NAME)
    emergency_contact_relation = encryption.EncryptedCharField(
        "relation", max_length=60, blank=True, help_text="For example mother, partner, friend."
    )
    emergency_contact_phone = encryption.EncryptedCharField("emergency contact phone", max_length=32, blank=True)
    status = models.CharField(
        "status",
        max_length=10,
        db_index=True,
        choices=[(s.value, s.value.capitalize()) for s in domain.PatientStatus],
        default=domain.PatientStatus.ACTIVE.value,
        help_text="Changed with the Deactivate / Reactivate / Record death actions.",
    )

    # A legal hold keeps the whole record from being purged, whatever its age. It is placed and
    # released only through patients.services (with a reason); every other save keeps it as stored.
    legal_hold = models.BooleanField(
        "legal hold",
        default=False,
        editable=False,
        help_text="Records under a legal hold are never purged. Placed and released with the patient actions, with a reason.",
    )
    legal_hold_reason = encryption.EncryptedTextField(
        "legal hold reason",
        blank=True,
        editable=False,
        help_text="Why the hold was last placed or released.",
    )
    legal_hold_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="legal hold placed or released by",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    legal_hold_changed_at = models.DateTimeField("legal hold placed or released", null=True, blank=True, editable=False)

    full_name_index = blind_index.BlindIndexField("full name index")
    preferred_full_name_index = blind_index.BlindIndexField("preferred full name index")
    last_name_index = blind_index.BlindIndexField("last name index")
    date_of_birth_index = blind_index.BlindIndexField("date of birth index")
    phone_index = blind_index.BlindIndexField("phone index")
    email_index = blind_index.BlindIndexField("e-mail index")

    class Meta:
        verbose_name = "patient"
        ordering = ["mrn"]
        # Held by no role (novamind.roles): purge_expired is run by a superuser, or by a user
        # given this permission for the purpose.
        permissions = [("purge_patient", "Can purge a patient's expired record (purge_expired)")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.PatientStatus]),
                name="patients_patient_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(legal_hold=False)
                | models.Q(legal_hold_changed_by__isnull=False, legal_hold_changed_at__isnull=False),
                name="patients_patient_legal_hold_attributed",
            ),
        ]

    def __str__(self):
        # The admin log keeps str(obj) in plaintext: the MRN identifies without disclosing.
        return self.mrn or "new patient"

    def clean(self):
        try:
            patient = self.to_domain(with_audit=False).validated(
                today=timezone.localdate(), phone_region=settings.NOVAMIND_DEFAULT_PHONE_REGION
            )
        except RuleViolation as violation:
            raise ValidationError(violation.errors) from None
        self.update_from_domain(patient)

    def save(self, *args, **kwargs):
        # A revert to a version from before a hold, or any edit of the details, must not lift or
        # fake a hold: unless patients.services is placing or releasing it, the stored one stays.
        if not self._state.adding and not self.__dict__.pop("_legal_hold_change", False):
            stored = type(self)._base_manager.filter(pk=self.pk).values(*LEGAL_HOLD_COLUMNS).first()
            for column, value in (stored or {}).items():
                setattr(self, column, value)
        # A savepoint, not savepoint=False: a save refused on the way (no named user, a rule) must
        # not leave the caller's transaction unusable.
        with transaction.atomic():
            super().save(*args, **kwargs)
            self._store_name_prefixes()

    def _store_name_prefixes(self) -> None:
        """Bring the patient's rows of NamePrefixIndex in line with its names and birth date."""
        wanted = self.name_prefix_indexes()
        rows = NamePrefixIndex.objects.filter(patient_id=self.pk)
        stored = set(rows.values_list("digest", flat=True))
        if stale := stored - wanted:
            rows.filter(digest__in=stale).delete()
        if missing := wanted - stored:
            # A bare bulk_create on purpose: the rows are derived from the patient's fields on every
            # save, and the patient's own history row records what they were derived from.
            NamePrefixIndex.objects.bulk_create(NamePrefixIndex(patient_id=self.pk, digest=d) for d in missing)

    def name_prefix_indexes(self) -> set[str]:
        """Return the digests of the patient's rows of NamePrefixIndex."""
        return name_prefix_values(
            first=self.legal_first_name,
            last=self.legal_last_name,
            preferred=self.preferred_name,
            date_of_birth=self.date_of_birth,
        )

    def blind_indexes(self):
        return index_values(
            first=self.legal_first_name,
            last=self.legal_last_name,
            preferred=self.preferred_name,
            date_of_birth=self.date_of_birth,
            phone=self.phone,
            email=self.email,
        )

    def to_domain(self, *, with_audit=True) -> domain.Patient:
        """Return the domain Patient this row holds."""
        return domain.Patient(
            id=self.id if not self._state.adding else None,
            mrn=self.mrn,
            legal_first_name=self.legal_first_name,
            legal_last_name=self.legal_last_name,
            preferred_name=self.preferred_name,
            pronouns=self.pronouns,
            date_of_birth=self.date_of_birth,
            sex_assigned_at_birth=domain.SexAssignedAtBirth(self.sex_assigned_at_birth or "unknown"),
            gender_identity=self.gender_identity,
            phone=self.phone,
            email=self.email,
            address=domain.Address(
                line1=self.address_line1,
                line2=self.address_line2,
                city=self.address_city,
                region=self.address_region,
                postal_code=self.address_postal_code,
                country=self.address_country,
            ),
            emergency_contact=domain.EmergencyContact(
                name=self.emergency_contact_name,
                relation=self.emergency_contact_relation,
                phone=self.emergency_contact_phone,
            ),
            status=domain.PatientStatus(self.status),
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def update_from_domain(self, patient: domain.Patient) -> None:
        """Copy the editable details of `patient` onto this row (identity and audit excluded)."""
        self.legal_first_name = patient.legal_first_name
        self.legal_last_name = patient.legal_last_name
        self.preferred_name = patient.preferred_name
        self.pronouns = patient.pronouns
        self.date_of_birth = patient.date_of_birth
        self.sex_assigned_at_birth = patient.sex_assigned_at_birth.value
        self.gender_identity = patient.gender_identity
        self.phone = patient.phone
        self.email = patient.email
        self.address_line1 = patient.address.line1
        self.address_line2 = patient.address.line2
        self.address_city = patient.address.city
        self.address_region = patient.address.region
        self.address_postal_code = patient.address.postal_code
        self.address_country = patient.address.country
        self.emergency_contact_name = patient.emergency_contact.name
        self.emergency_contact_relation = patient.emergency_contact.relation
        self.emergency_contact_phone = patient.emergency_contact.phone
        self.status = patient.status.value


def name_index(text: str) -> str | None:
    """Return the blind index of a full name ("first last"), as saved and as searched."""
    return blind_index.of_text("patient.full_name", text)


def last_name_index(text: str) -> str | None:
    """Return the blind index of a last name."""
    return blind_index.of_text("patient.last_name", text)


def date_of_birth_index(value) -> str | None:
    """Return the blind index of a date of birth."""
    return blind_index.of_date("patient.date_of_birth", value)


def phone_index(e164: str) -> str | None:
    """Return the blind index of a phone number in E.164 form."""
    return blind_index.of_phone("patient.phone", e164)


def email_index(address: str) -> str | None:
    """Return the blind index of an e-mail address."""
    return blind_index.of_email("patient.email", address)


def index_values(*, first, last, preferred, date_of_birth, phone, email) -> dict[str, str | None]:
    """Return the blind-index columns for these details."""
    return {
        "full_name_index": name_index(f"{first} {last}") if first and last else None,
        "preferred_full_name_index": name_index(f"{preferred} {last}") if preferred and last else None,
        "last_name_index": last_name_index(last),
        "date_of_birth_index": date_of_birth_index(date_of_birth),
        "phone_index": phone_index(phone),
        "email_index": email_index(email),
    }


def last_name_prefix_index(text: str) -> str | None:
    """Return the blind index of the start of a last name, as typed (3 to 6 letters; fewer: the whole name)."""
    length = blind_index.prefix_length(text, longest=LAST_NAME_PREFIXES[-1])
    return blind_index.of_prefix("patient.last_name_prefix", text, length)


def last_name_prefix_year_index(text: str, year: int) -> str | None:
    """Return the blind index of the first 3 letters of a last name together with the year of birth."""
    return blind_index.of_prefix("patient.last_name_prefix_birth_year", text, YEAR_PREFIX, qualifier=str(year))


def given_name_prefix_indexes(text: str) -> list[str]:
    """Return the blind indexes of the start of a first name: as a legal first name, as a preferred name."""
    return [
        digest
        for purpose in ("patient.first_name_prefix", "patient.preferred_name_prefix")
        if (digest := blind_index.of_prefix(purpose, text, GIVEN_NAME_PREFIX))
    ]


def name_prefix_values(*, first, last, preferred, date_of_birth) -> set[str]:
    """Return the digests of the NamePrefixIndex rows of a patient with these details.

    Every patient has the same number of them (seven), whatever the length of the names: a name
    shorter than a prefix is indexed whole, and a patient without a preferred name is indexed
    under their first name, so the count tells nothing.
    """
    digests = {blind_index.of_prefix("patient.last_name_prefix", last, length) for length in LAST_NAME_PREFIXES}
    if date_of_birth:
        digests.add(last_name_prefix_year_index(last, date_of_birth.year))
    digests.add(blind_index.of_prefix("patient.first_name_prefix", first, GIVEN_NAME_PREFIX))
    digests.add(blind_index.of_prefix("patient.preferred_name_prefix", preferred or first, GIVEN_NAME_PREFIX))
    return digests - {None}


class NamePrefixIndex(models.Model):
    """A blind index of the start of a patient's name, for staff's prefix search.

    The digests of `name_prefix_values`: the first 3, 4, 5 and 6 letters of the last name, its
    first 3 with the birth year, the first 3 of the legal first name and of the preferred name,
    each under its own purpose. Derived from the encrypted fields whenever the patient is saved
    (`Patient.save`) or written in bulk, so it has no history of its own; it is purged with the
    patient. A table rather than seven indexed columns: one B-tree serves every prefix, and the
    history tables do not copy them. What it reveals: README, "Security model".
    """

    pk = models.CompositePrimaryKey("digest", "patient")
    digest = models.CharField("digest", max_length=blind_index.DIGEST_LENGTH, editable=False)
    patient = models.ForeignKey(
        Patient,
        verbose_name="patient",
        on_delete=models.CASCADE,
        related_name="name_prefixes",
        editable=False,
    )

    class Meta:
        verbose_name = "name prefix index"
        verbose_name_plural = "name prefix indexes"
        default_permissions = ()  # no one reads or edits it by hand: the search reads it

    def __str__(self):
        return f"name prefix index {self.digest[:8]}"


class EmergencyAccessGrant(AuditedModel):
    """Emergency ("break the glass") access: a clinician opens a patient outside their care.

    The grant is made by the clinician themself, with a reason, and ends by itself at
    `expires_at` (NOVAMIND_EMERGENCY_ACCESS_MINUTES after it was made); it is never extended,
    only followed by a new one. Everything its holder does with the patient's records while the
    grant is why they may see them is flagged `emergency` in the access log, for review.
    """

    patient = models.ForeignKey(
        Patient,
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="emergency_access_grants",
        editable=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="granted to",
        on_delete=models.PROTECT,
        related_name="emergency_access_grants",
        editable=False,
    )
    reason = encryption.EncryptedTextField(
        "reason",
        editable=False,
        help_text="Why the record had to be opened; stored encrypted.",
    )
    granted_at = models.DateTimeField("granted", default=timezone.now, editable=False)
    expires_at = models.DateTimeField("expires", editable=False, db_index=True)

    class Meta:
        verbose_name = "emergency access grant"
        ordering = ["-granted_at"]
        indexes = [models.Index(fields=["user", "patient", "expires_at"], name="patients_grant_user_patient")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("granted_at")), name="patients_grant_expires_after_granted"
            ),
        ]

    def __str__(self):
        return f"emergency access {str(self.pk)[:8]}"

    def is_active(self, now=None) -> bool:
        """Return whether the grant is still in force."""
        return (now or timezone.now()) < self.expires_at


class CareAssignment(AuditedModel):
    """A clinician is on a patient's care team: the explicit act that lets them see the record.

    Care begins only here (novamind's access policy, `patients.policy`): the front desk or a
    superuser assigns a clinician to a patient, or the front desk books an appointment with that
    clinician. A clinician's own writes never create care. Care ends by setting `ended_at`; the
    row stays, so the history shows who was on the team and when.
    """

    patient = models.ForeignKey(
        Patient,
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="care_assignments",
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="clinician",
        on_delete=models.PROTECT,
        related_name="care_assignments",
        help_text="A clinician, prescriber or supervisor who treats the patient.",
    )
    started_at = models.DateTimeField("since", default=timezone.now, editable=False)
    ended_at = models.DateTimeField("ended", null=True, blank=True, editable=False, db_index=True)

    class Meta:
        verbose_name = "care assignment"
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["clinician", "patient"], name="patients_care_clin_patient")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "clinician"],
                condition=models.Q(ended_at__isnull=True),
                name="patients_care_one_open_assignment",
                violation_error_message="This clinician is already on the patient's care team.",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="patients_care_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"care assignment {str(self.pk)[:8]}"

    @property
    def is_open(self) -> bool:
        """Return whether the clinician is on the care team now."""
        return self.ended_at is None
