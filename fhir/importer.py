"""Import another system's FHIR R4 record: Patient, AllergyIntolerance, Condition, MedicationRequest.

The file is a Bundle (any type; each entry's `resource`), one resource, or NDJSON (one resource a
line, as FHIR bulk export writes). Every resource is checked against the official R4 JSON schema
(`fhir.validation`) before it is read, then mapped to NovaMind's domain objects and written
through the services (`patients.services`, `diagnoses.services`, `medications.services`), in the
actor's name, with the access policy asked by each service as for any other write.

All or nothing. The whole import is one transaction; each resource is written in a savepoint of
its own so that a refusal is reported and the others are still tried (the report lists every
refusal, not the first), and when anything was refused the transaction is rolled back. A dry run
is the same run, rolled back at the end: it applies every rule, care included, and keeps nothing.

What a resource maps to, what is matched and what is dropped, is in the README ("Importing FHIR").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import re
from collections.abc import Iterator

from django.db import transaction

from diagnoses import codeset
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from fhir import mapping, validation
from fhir.export import identifier_system
from medications import domain as medications_domain
from medications import drug_classes
from medications import services as medications_services
from novamind import access
from novamind.domain import AccessDenied, NotFound, RuleViolation
from patients import domain as patients_domain
from patients import models as patients_models
from patients import policy
from patients import services as patients_services

SUPPORTED = ("Patient", "AllergyIntolerance", "Condition", "MedicationRequest")
# Resources a file may carry that are read only as the target of a reference (a Medication).
REFERENCED_ONLY = ("Medication",)
SNOMED = "http://snomed.info/sct"
NDC = "http://hl7.org/fhir/sid/ndc"
# SNOMED CT codes that state that no allergy is known: an absence, which NovaMind does not record.
NO_KNOWN_ALLERGY = {
    "716186003": "no known allergy",
    "409137002": "no known drug allergy",
    "428607008": "no known environmental allergy",
    "429625007": "no known food allergy",
}
# Resource types of other FHIR versions, and what R4 calls them: a file of another version is
# named as such rather than refused resource by resource.
OTHER_VERSIONS = {
    "MedicationOrder": "DSTU2 (R4 calls it MedicationRequest)",
    "DiagnosticOrder": "DSTU2 (R4 calls it ServiceRequest)",
    "ProcedureRequest": "STU3 (R4 calls it ServiceRequest)",
    "ReferralRequest": "STU3 (R4 calls it ServiceRequest)",
    "DataElement": "STU3",
    "Sequence": "STU3 (R4 calls it MolecularSequence)",
    "Requirements": "R5",
    "ActorDefinition": "R5",
    "SubscriptionTopic": "R5",
    "Transport": "R5",
    "InventoryItem": "R5",
    "Permission": "R5",
}
# SNOMED CT route codes (the FHIR route value set) and NovaMind's routes.
ROUTES = {
    "26643006": medications_domain.Route.ORAL,
    "37839007": medications_domain.Route.SUBLINGUAL,
    "78421000": medications_domain.Route.INTRAMUSCULAR,
    "34206005": medications_domain.Route.SUBCUTANEOUS,
    "45890007": medications_domain.Route.TRANSDERMAL,
    "46713006": medications_domain.Route.INTRANASAL,
}
# HL7 v3 orderable drug forms (as dose units and Medication.form) and NovaMind's.
DRUG_FORMS = {"TAB": medications_domain.DoseForm.TABLET, "CAP": medications_domain.DoseForm.CAPSULE}
FORM_UNITS = {"TAB": medications_domain.DoseUnit.TABLET, "CAP": medications_domain.DoseUnit.CAPSULE}
# Timing.code (v3 GTSAbbreviation) and NovaMind's frequencies.
TIMING_CODES = {
    "QD": medications_domain.FrequencyKind.ONCE_DAILY,
    "BID": medications_domain.FrequencyKind.TWICE_DAILY,
    "TID": medications_domain.FrequencyKind.THREE_TIMES_DAILY,
    "QID": medications_domain.FrequencyKind.FOUR_TIMES_DAILY,
    "AM": medications_domain.FrequencyKind.EVERY_MORNING,
    "HS": medications_domain.FrequencyKind.AT_BEDTIME,
    "WK": medications_domain.FrequencyKind.ONCE_WEEKLY,
}
TIMES_A_DAY = {
    1: medications_domain.FrequencyKind.ONCE_DAILY,
    2: medications_domain.FrequencyKind.TWICE_DAILY,
    3: medications_domain.FrequencyKind.THREE_TIMES_DAILY,
    4: medications_domain.FrequencyKind.FOUR_TIMES_DAILY,
}
REASON_PREFIX = "discontinue-reason/"  # how NovaMind's export codes a stop reason (fhir.export)
ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")
# NovaMind's own words, as its export writes them (text, not codes): read back in a round trip.
ROUTE_LABELS = {route.label: route for route in medications_domain.Route}
UNIT_LABELS = {unit.label: unit for unit in medications_domain.DoseUnit}
FREQUENCY_LABELS = {
    kind.label: kind
    for kind in medications_domain.FrequencyKind
    if kind.value not in medications_domain.INTERVAL_LIMITS
}
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
ACCESS_ACTION = "import duplicate check"


class ImportFileError(Exception):
    """The file cannot be read as FHIR R4 at all (not JSON, not a resource, another FHIR version)."""


class Refused(Exception):
    """One resource cannot be imported; the message says why."""


# --- Reading the file ----------------------------------------------------------------------------


@dataclasses.dataclass
class Entry:
    """One resource of the file, where it was found and what became of it."""

    where: str  # "entry 3" or "line 3"
    resource: dict
    full_url: str = ""
    action: str = ""  # "created", "matched", "recorded"
    detail: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    refusal: str = ""
    patient_id: object = None  # a Patient entry's record, once created or matched
    record_id: object = None  # a MedicationRequest entry's order, once recorded (revisions link to it)

    @property
    def kind(self) -> str:
        return self.resource.get("resourceType", "")

    @property
    def label(self) -> str:
        """Return how the report names it: "entry 3 (Condition/f201)"."""
        rid = self.resource.get("id")
        return f"{self.where} ({self.kind}/{rid})" if rid else f"{self.where} ({self.kind})"


def read(data: bytes) -> list[Entry]:
    """Return the resources of a Bundle, a single resource or NDJSON; raise ImportFileError if it is neither."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"The file is not UTF-8 text (byte {error.start}); FHIR JSON is UTF-8.") from None
    if not text.strip():
        raise ImportFileError("The file is empty.")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1 and error.lineno > 1:
            return _ndjson(text)
        raise ImportFileError(
            f"The file is not JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    if not isinstance(document, dict):
        raise ImportFileError("The file is JSON but not a FHIR resource (a JSON object with a resourceType).")
    _check_version(document, "The file")
    if document.get("resourceType") == "Bundle":
        entries = document.get("entry")
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise ImportFileError("Bundle.entry is not a list.")
        found = []
        for number, item in enumerate(entries, start=1):
            if not isinstance(item, dict) or not isinstance(item.get("resource"), dict):
                raise ImportFileError(f"Bundle entry {number} has no resource.")
            _check_version(item["resource"], f"Bundle entry {number}")
            found.append(Entry(f"entry {number}", item["resource"], full_url=str(item.get("fullUrl") or "")))
        return found
    return [Entry("the resource", document)]


def _ndjson(text: str) -> list[Entry]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as error:
            raise ImportFileError(
                f"Line {number} is not JSON ({error.msg}, column {error.colno}): NDJSON holds one resource a line."
            ) from None
        if not isinstance(resource, dict):
            raise ImportFileError(f"Line {number} is not a FHIR resource (a JSON object with a resourceType).")
        _check_version(resource, f"Line {number}")
        found.append(Entry(f"line {number}", resource))
    return found


def _check_version(resource: dict, where: str) -> None:
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not kind:
        raise ImportFileError(f"{where} has no resourceType: it is not a FHIR resource.")
    meta = resource.get("meta")
    declared = resource.get("fhirVersion") or (meta.get("fhirVersion") if isinstance(meta, dict) else None)
    if isinstance(declared, str) and not declared.startswith("4.0"):
        raise ImportFileError(
            f"{where} declares FHIR version {declared}; this command reads FHIR R4 ({mapping.FHIR_VERSION}) only."
        )
    if kind in OTHER_VERSIONS:
        raise ImportFileError(
            f"{where} is a {kind}, a resource of FHIR {OTHER_VERSIONS[kind]}; this command reads FHIR R4 "
            f"({mapping.FHIR_VERSION}) only."
        )


# --- The run -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    """What an import did, or (dry run) would do."""

    entries: list[Entry]
    dry_run: bool

    @property
    def skipped(self) -> int:
        return sum(1 for entry in self.entries if entry.action == "skipped")

    @property
    def refused(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.refusal]

    def count(self, kind: str, action: str) -> int:
        return sum(1 for entry in self.entries if entry.kind == kind and entry.action == action and not entry.refusal)


class _RollBack(Exception):
    """Leave the transaction without keeping anything (a dry run, or a refusal)."""


def import_resources(entries: list[Entry], *, actor, dry_run: bool = False) -> Outcome:
    """Import `entries` as `actor`, all or nothing; return the outcome (`refused` lists what stopped it)."""
    outcome = Outcome(entries=entries, dry_run=dry_run)
    run = _Run(entries, actor)
    for entry in entries:
        if entry.kind not in SUPPORTED and entry.kind not in REFERENCED_ONLY:
            # Not a refusal: a record from another system carries practitioners, encounters, notes…
            # that NovaMind does not import; they are listed as skipped, and the rest goes in.
            entry.action = "skipped"
            continue
        if problems := validation.schema_errors(entry.resource):
            entry.refusal = "Not valid FHIR R4 (official JSON schema): " + "; ".join(problems[:5])
            if len(problems) > 5:
                entry.refusal += f"; … and {len(problems) - 5} more"
    try:
        with transaction.atomic():
            run.write()
            if outcome.refused or dry_run:
                raise _RollBack
    except _RollBack:
        pass
    run.record_duplicate_check(dry_run=dry_run)
    return outcome


class _Run:
    """One import: resolves references inside the file and writes each resource through its service."""

    def __init__(self, entries: list[Entry], actor):
        self.entries = entries
        self.actor = actor
        self.by_reference: dict[str, Entry] = {}
        for entry in entries:
            rid = entry.resource.get("id")
            if entry.full_url:
                self.by_reference[entry.full_url] = entry
            if isinstance(rid, str) and rid:
                self.by_reference.setdefault(f"{entry.kind}/{rid}", entry)
        self.duplicates_checked = 0

    def write(self) -> None:
        # Patients first, so that every clinical resource finds its patient's record, wherever
        # it stands in the file.
        ordered = sorted(self.entries, key=lambda entry: (entry.kind != "Patient", self._revision_depth(entry)))
        for entry in ordered:
            if entry.refusal or entry.kind in REFERENCED_ONLY or entry.action == "skipped":
                continue
            try:
                with transaction.atomic():
                    getattr(self, f"_{entry.kind}")(entry)
            except Refused as refusal:
                entry.refusal = str(refusal)
            except RuleViolation as violation:
                entry.refusal = _describe(violation)
            except (AccessDenied, NotFound) as refusal:
                entry.refusal = f"Refused by the access policy: {refusal}"
            except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:
                # The R4 JSON schema gives its complex types no "type": "object", so it lets a text
                # stand where R4 has an object (STU3's Condition.clinicalStatus is a code, R4's a
                # CodeableConcept). Such a resource is refused here, never a traceback.
                entry.refusal = (
                    f"An element does not have the shape FHIR R4 gives it ({type(error).__name__}): a text or a "
                    "number where R4 has an object or a list, as in STU3 or DSTU2 resources. Check the file is R4."
                )

    def record_duplicate_check(self, *, dry_run: bool) -> None:
        """Log the duplicate check, if one ran, whatever became of the import.

        Telling which patients are registered discloses who is one, so a dry run and a refused
        import log it too (after their rollback), as import_patients does.
        """
        if self.duplicates_checked:
            access.record(
                user=self.actor,
                action=ACCESS_ACTION,
                category="demographics",
                detail=f"import_fhir_bundle{' (dry run)' if dry_run else ''}: {self.duplicates_checked} "
                "patient(s) compared by legal name and date of birth; no content shown",
            )

    def _revision_depth(self, entry: Entry) -> int:
        """Return how many orders of this file precede `entry` through priorPrescription (0 for the first)."""
        depth, seen = 0, {id(entry)}
        while entry.kind == "MedicationRequest":
            prior = entry.resource.get("priorPrescription")
            target = prior.get("reference") if isinstance(prior, dict) else None
            entry = self.by_reference.get(target) if isinstance(target, str) else None
            if entry is None or id(entry) in seen:
                break
            seen.add(id(entry))
            depth += 1
        return depth

    # --- Patient --------------------------------------------------------------------------------

    def _Patient(self, entry: Entry) -> None:
        resource = entry.resource
        ours = identifier_system()
        mrns = [
            str(identifier.get("value") or "").strip().upper()
            for identifier in resource.get("identifier", [])
            if identifier.get("system") == ours
        ]
        foreign = sorted(
            {
                identifier.get("system") or "(no system)"
                for identifier in resource.get("identifier", [])
                if identifier.get("system") != ours
            }
        )
        if len(set(mrns)) > 1:
            raise Refused(f"It has {len(set(mrns))} different MRNs of this clinic ({ours}); a patient has one.")
        if mrns:
            self._match(entry, mrns[0])
            return
        patient = _patient(resource, entry)
        self._check_not_registered(patient)
        stored = patients_services.patient_register(patient=patient, actor=self.actor)
        entry.patient_id, entry.action, entry.detail = stored.id, "created", stored.mrn
        if foreign:
            entry.notes.append(
                f"its identifiers of other systems ({', '.join(foreign)}) are not kept: a NovaMind patient "
                f"has its own MRN only"
            )

    def _match(self, entry: Entry, mrn: str) -> None:
        if not patients_domain.is_valid_mrn(mrn):
            raise Refused(f"Its identifier of this clinic ({identifier_system()}) is not a NovaMind MRN.")
        found = patients_models.Patient.objects.filter(mrn=mrn).values_list("id", flat=True).first()
        if found is None or not policy.may_see(self.actor, found):
            # Outside the actor's care, an MRN answers as if it did not exist (as medication_list does).
            raise Refused(f"No patient {mrn} that {self.actor.get_username()} may see.")
        entry.patient_id, entry.action, entry.detail = found, "matched", mrn
        entry.notes.append("the record's own details are kept; the file's are not applied")

    def _check_not_registered(self, patient: patients_domain.Patient) -> None:
        self.duplicates_checked += 1
        indexes = patients_models.index_values(
            first=patient.legal_first_name,
            last=patient.legal_last_name,
            preferred="",
            date_of_birth=patient.date_of_birth,
            phone="",
            email="",
        )
        if patients_models.Patient.objects.filter(
            full_name_index=indexes["full_name_index"], date_of_birth_index=indexes["date_of_birth_index"]
        ).exists():
            raise Refused(
                "A patient with this legal name and date of birth is already registered (or earlier in this "
                f"file). To add to that record, give its MRN as the patient's identifier (system {identifier_system()})."
            )

    # --- References -----------------------------------------------------------------------------

    def _patient_of(self, entry: Entry, field: str = "subject"):
        reference = entry.resource.get(field) or {}
        target = reference.get("reference")
        if target:
            found = self.by_reference.get(target)
            if found is None and "/" in target and not target.startswith(("urn:", "#")):
                # An absolute URL ending in Patient/id names the same resource as the relative one.
                found = self.by_reference.get("/".join(target.rstrip("/").split("/")[-2:]))
            if found is None or found.kind != "Patient":
                raise Refused(f"Its {field} ({target}) is not a Patient in this file.")
            if found.refusal or found.patient_id is None:
                raise Refused(f"Its {field}, {found.label}, was refused.")
            return found.patient_id
        identifier = reference.get("identifier") or {}
        if identifier.get("system") == identifier_system() and identifier.get("value"):
            mrn = str(identifier["value"]).strip().upper()
            found = patients_models.Patient.objects.filter(mrn=mrn).values_list("id", flat=True).first()
            if found is None or not policy.may_see(self.actor, found):
                raise Refused(f"No patient {mrn} that {self.actor.get_username()} may see.")
            return found
        raise Refused(f"Its {field} names no Patient of this file (nor an MRN of this clinic).")

    # --- AllergyIntolerance ---------------------------------------------------------------------

    def _AllergyIntolerance(self, entry: Entry) -> None:
        resource = entry.resource
        verification = _code_of(resource.get("verificationStatus"), mapping.ALLERGY_VERIFICATION)
        if verification == "refuted":
            raise Refused("Its verification status is refuted: there is no allergy to record.")
        code = resource.get("code") or {}
        for coding in code.get("coding", []):
            if coding.get("system") == SNOMED and coding.get("code") in NO_KNOWN_ALLERGY:
                raise Refused(
                    f"It states {NO_KNOWN_ALLERGY[coding['code']]} (SNOMED CT {coding['code']}): NovaMind records "
                    "allergies, not their absence."
                )
        substance = _text_of(code)
        if not substance:
            raise Refused("It names no substance (AllergyIntolerance.code has neither text nor a display).")
        clinical = _code_of(resource.get("clinicalStatus"), mapping.ALLERGY_CLINICAL)
        status = (
            medications_domain.AllergyStatus.RESOLVED
            if clinical in ("inactive", "resolved")
            else medications_domain.AllergyStatus.ACTIVE
        )
        if verification == "entered-in-error":
            # Kept retired, as NovaMind keeps its own entries entered in error: never checked again.
            status = medications_domain.AllergyStatus.ENTERED_IN_ERROR
        reactions, severities = [], []
        for reaction in resource.get("reaction", []):
            for manifestation in reaction.get("manifestation", []):
                if text := _text_of(manifestation):
                    reactions.append(text)
            if reaction.get("severity"):
                severities.append(reaction["severity"])
        severity = medications_domain.AllergySeverity.UNKNOWN
        for level in ("severe", "moderate", "mild"):
            if level in severities:
                severity = medications_domain.AllergySeverity(level)
                break
        allergy = medications_domain.Allergy(
            patient_id=self._patient_of(entry, "patient"),
            substance=substance,
            reaction="; ".join(dict.fromkeys(reactions)),
            severity=severity,
            status=status,
        ).validated()
        stored = medications_services.allergy_add(allergy=allergy, actor=self.actor)
        entry.action, entry.detail = "recorded", f"allergy {str(stored.id)[:8]} ({status.value})"

    # --- Condition ------------------------------------------------------------------------------

    def _Condition(self, entry: Entry) -> None:
        resource = entry.resource
        code = resource.get("code") or {}
        codings = [coding for coding in code.get("coding", []) if isinstance(coding, dict)]
        icd = [coding for coding in codings if coding.get("system") == mapping.ICD10CM and coding.get("code")]
        if not icd:
            others = ", ".join(f"{c.get('system') or '(no system)'} {c.get('code') or ''}".strip() for c in codings)
            if any(coding.get("system") == SNOMED for coding in codings):
                raise Refused(
                    f"It is coded in SNOMED CT only ({others}): NovaMind's problem list holds billable ICD-10-CM "
                    f"codes (system {mapping.ICD10CM}), and a SNOMED CT to ICD-10-CM mapping needs a clinician's "
                    "choice, so none is applied."
                )
            what = f"it is coded only as {others}" if codings else "it has no coded diagnosis, only text"
            raise Refused(f"It has no ICD-10-CM code (system {mapping.ICD10CM}): {what}.")
        number = codeset.normalize(icd[0]["code"])
        if why := codeset.why_not_billable(number):
            raise Refused(f"{why} (ICD-10-CM {number}, {codeset.CODE_SET})")
        verification = _code_of(resource.get("verificationStatus"), mapping.CONDITION_VERIFICATION)
        clinical = _code_of(resource.get("clinicalStatus"), mapping.CONDITION_CLINICAL)
        since = None
        if verification == "entered-in-error":
            raise Refused("Its verification status is entered-in-error: there is no diagnosis to record.")
        if verification in ("unconfirmed", "provisional", "differential"):
            raise Refused(
                f"Its verification status is {verification}: NovaMind's problem list holds confirmed diagnoses "
                "(and ruled-out ones); record it once confirmed."
            )
        if verification == "refuted":
            status = diagnoses_domain.DiagnosisStatus.RULED_OUT
        elif clinical in ("inactive", "resolved"):
            status = diagnoses_domain.DiagnosisStatus.RESOLVED
            since = _date(resource.get("abatementDateTime")) or _date(
                (resource.get("abatementPeriod") or {}).get("end")
            )
            if since is None:
                raise Refused(
                    f"It is {clinical} but gives no full date it ended (abatementDateTime): a resolved diagnosis "
                    "needs the date it resolved, which is never guessed."
                )
        elif clinical == "remission":
            status = diagnoses_domain.DiagnosisStatus.IN_REMISSION
            since = _date(resource.get("abatementDateTime"))
        else:
            status = diagnoses_domain.DiagnosisStatus.ACTIVE
        onset_text = resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start")
        onset = _date(onset_text)
        if onset_text and onset is None:
            entry.notes.append(f"its onset ({onset_text}) is not a full date and is not kept")
        for dropped in ("onsetAge", "onsetRange", "onsetString"):
            if dropped in resource:
                entry.notes.append(f"its {dropped} is not kept (NovaMind keeps an onset date)")
        notes = [str(note.get("text")).strip() for note in resource.get("note", []) if note.get("text")]
        diagnosis = diagnoses_domain.Diagnosis(
            patient_id=self._patient_of(entry),
            code=number,
            specifier="\n".join(notes),
            onset_date=onset,
            status=status,
            status_since=since,
        )
        stored = diagnoses_services.diagnosis_record(diagnosis=diagnosis, actor=self.actor)
        entry.action, entry.detail = "recorded", f"diagnosis {stored.short_id} ({status.value})"

    # --- MedicationRequest ----------------------------------------------------------------------

    def _MedicationRequest(self, entry: Entry) -> None:
        resource = entry.resource
        intent = resource.get("intent")
        if intent not in ORDER_INTENTS:
            raise Refused(f"Its intent is {intent}: only an order (not a plan or a proposal) is a medication taken.")
        status, stop = _order_status(resource)
        medication = self._medication(entry)
        drug_name = _text_of(medication)
        if not drug_name:
            raise Refused("It names no medication (no text or display on its medication code).")
        rxnorm = next(
            (str(c.get("code")) for c in medication.get("coding", []) if c.get("system") == mapping.RXNORM), ""
        )
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        start = _date(validity.get("start")) or _date(resource.get("authoredOn"))
        if start is None:
            raise Refused(
                "It gives no full date it is valid from or was written (authoredOn): an order needs its start."
            )
        end = _date(validity.get("end")) if status is not medications_domain.OrderStatus.DISCONTINUED else None
        known = drug_classes.known_schedule(drug_name)
        order = medications_domain.MedicationOrder(
            patient_id=self._patient_of(entry),
            drug_name=drug_name,
            rxnorm_code=rxnorm if rxnorm.isdigit() and len(rxnorm) <= medications_domain.RXNORM_MAX_DIGITS else "",
            strength="",
            dose_form=self._dose_form(entry),
            dose_amount=None,
            dose_unit=None,
            route=None,
            frequency=medications_domain.Frequency(kind=None),
            start_date=start,
            end_date=end if end and end >= start else None,
            quantity=None,
            schedule=medications_domain.Schedule(known) if known else medications_domain.Schedule.NONE,
            status=status,
            recorded_from=_source(resource),
            replaces_id=self._prior(entry),
            **stop,
        )
        order = _dosage(order, resource, entry)
        dispense = resource.get("dispenseRequest") or {}
        quantity = _decimal((dispense.get("quantity") or {}).get("value"))
        if quantity is not None and quantity > 0:
            order = dataclasses.replace(order, quantity=quantity)
        if isinstance(dispense.get("numberOfRepeatsAllowed"), int):
            order = dataclasses.replace(order, refills=dispense["numberOfRepeatsAllowed"])
        stored = medications_services.order_record_outside(order=order, actor=self.actor)
        entry.record_id = stored.id
        entry.action, entry.detail = "recorded", f"order {stored.short_id} ({status.value}, prescribed elsewhere)"

    def _prior(self, entry: Entry):
        """Return the id of the order this one revises (priorPrescription, in this file), or None."""
        target = (entry.resource.get("priorPrescription") or {}).get("reference")
        if not target:
            return None
        found = self.by_reference.get(target)
        if found is None or found.kind != "MedicationRequest":
            entry.notes.append(f"the order it revises ({target}) is not in this file, so the link is not kept")
            return None
        if found.record_id is None:
            raise Refused(f"The order it revises, {found.label}, was refused.")
        return found.record_id

    def _medication(self, entry: Entry) -> dict:
        resource = entry.resource
        if "medicationCodeableConcept" in resource:
            return resource["medicationCodeableConcept"]
        target = (resource.get("medicationReference") or {}).get("reference") or ""
        if target.startswith("#"):
            for contained in resource.get("contained", []):
                if contained.get("resourceType") == "Medication" and contained.get("id") == target[1:]:
                    return contained.get("code") or {}
            raise Refused(f"Its medication ({target}) is not among its contained resources.")
        found = self.by_reference.get(target)
        if found is None or found.kind != "Medication":
            raise Refused(f"Its medication ({target or 'no reference'}) is not a Medication in this file.")
        if found.refusal:
            raise Refused(f"Its medication, {found.label}, was refused: {found.refusal}")
        return found.resource.get("code") or {}

    def _dose_form(self, entry: Entry):
        target = (entry.resource.get("medicationReference") or {}).get("reference") or ""
        medication = None
        if target.startswith("#"):
            medication = next(
                (c for c in entry.resource.get("contained", []) if c.get("id") == target[1:]),
                None,
            )
        elif target in self.by_reference:
            medication = self.by_reference[target].resource
        for coding in ((medication or {}).get("form") or {}).get("coding", []):
            if coding.get("code") in DRUG_FORMS:
                return DRUG_FORMS[coding["code"]]
        return None


# --- Mapping helpers -----------------------------------------------------------------------------


def _describe(violation: RuleViolation) -> str:
    parts = []
    for field, messages in violation.errors.items():
        prefix = "" if field == RuleViolation.NON_FIELD else f"{field}: "
        parts.extend(prefix + message for message in messages)
    return " ".join(parts)


def _code_of(concept, system: str) -> str | None:
    """Return the code of `system` in a CodeableConcept (or None)."""
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == system:
            return coding.get("code")
    return None


def _text_of(concept) -> str:
    """Return what a CodeableConcept says in words: its text, else its first coding's display."""
    concept = concept or {}
    if str(concept.get("text") or "").strip():
        return " ".join(str(concept["text"]).split())
    for coding in concept.get("coding", []):
        if str(coding.get("display") or "").strip():
            return " ".join(str(coding["display"]).split())
    return ""


def _date(value) -> dt.date | None:
    """Return the day of a FHIR date or dateTime, or None when it is missing or partial ("2012-03")."""
    if not isinstance(value, str) or not FULL_DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _decimal(value) -> decimal.Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return None


def _patient(resource: dict, entry: Entry) -> patients_domain.Patient:
    """Return the domain Patient a FHIR Patient describes (not yet validated), noting what is dropped."""
    names = [name for name in resource.get("name", []) if isinstance(name, dict)]
    legal = next((name for name in names if name.get("use") == "official"), None) or next(
        (name for name in names if name.get("use") in (None, "usual")), None
    )
    if legal is None:
        raise Refused("It has no official name: a patient is registered under their legal name.")
    usual = next((name for name in names if name.get("use") == "usual" and name is not legal), None)
    birth = resource.get("birthDate")
    born = _date(birth)
    if born is None:
        raise Refused(
            "It gives no full birth date (birthDate)."
            if not birth
            else f"Its birth date ({birth}) is not a full date: a patient is registered with a full date of birth."
        )
    extensions = {ext.get("url"): ext for ext in resource.get("extension", []) if isinstance(ext, dict)}
    status = patients_domain.PatientStatus.ACTIVE
    if resource.get("deceasedBoolean") or resource.get("deceasedDateTime"):
        status = patients_domain.PatientStatus.DECEASED
    elif resource.get("active") is False:
        status = patients_domain.PatientStatus.INACTIVE
    phone = _telecom(resource.get("telecom", []), "phone")
    email = _telecom(resource.get("telecom", []), "email")
    address = next((a for a in resource.get("address", []) if a.get("use") == "home"), None) or next(
        iter(resource.get("address", [])), {}
    )
    lines = [str(line) for line in address.get("line", [])]
    contact = _emergency_contact(resource.get("contact", []))
    if resource.get("gender") and mapping.US_CORE_BIRTH_SEX not in extensions:
        entry.notes.append(
            f"its administrative gender ({resource['gender']}) is not read as sex assigned at birth, "
            "which is recorded as unknown (no US Core birth-sex extension)"
        )
    return patients_domain.Patient(
        legal_first_name=" ".join(str(given) for given in legal.get("given", [])),
        legal_last_name=str(legal.get("family") or ""),
        preferred_name=" ".join(str(given) for given in usual.get("given", [])) if usual else "",
        date_of_birth=born,
        sex_assigned_at_birth=_sex(extensions, resource.get("gender")),
        gender_identity=_text_of((extensions.get(mapping.US_CORE_GENDER_IDENTITY) or {}).get("valueCodeableConcept")),
        pronouns=_pronouns(extensions.get(mapping.INDIVIDUAL_PRONOUNS)),
        phone=phone,
        email=email,
        address=patients_domain.Address(
            line1=lines[0] if lines else "",
            line2=", ".join(lines[1:]),
            city=str(address.get("city") or ""),
            region=str(address.get("state") or ""),
            postal_code=str(address.get("postalCode") or ""),
            country=str(address.get("country") or ""),
        ),
        emergency_contact=contact,
        status=status,
    )


def _sex(extensions: dict, gender) -> patients_domain.SexAssignedAtBirth:
    code = (extensions.get(mapping.US_CORE_BIRTH_SEX) or {}).get("valueCode")
    sexes = patients_domain.SexAssignedAtBirth
    if code == "UNK" and gender == "other":
        return sexes.INTERSEX  # how the export writes intersex (mapping.SEX_AT_BIRTH)
    return {"F": sexes.FEMALE, "M": sexes.MALE, "ASKU": sexes.DECLINED}.get(code, sexes.UNKNOWN)


def _pronouns(extension) -> str:
    for part in (extension or {}).get("extension", []):
        if part.get("url") == "value":
            return _text_of(part.get("valueCodeableConcept"))
    return ""


def _telecom(points, system: str) -> str:
    chosen = [p for p in points if isinstance(p, dict) and p.get("system") == system and p.get("value")]
    chosen.sort(key=lambda p: (p.get("rank") or 99, p.get("use") == "old"))
    return str(chosen[0]["value"]) if chosen else ""


def _emergency_contact(contacts) -> patients_domain.EmergencyContact:
    code = mapping.EMERGENCY_CONTACT_CODE[0]

    def is_emergency(contact):
        return any(
            coding.get("code") == code and coding.get("system") == mapping.CONTACT_ROLE
            for relationship in contact.get("relationship", [])
            for coding in relationship.get("coding", [])
        )

    contacts = [c for c in contacts if isinstance(c, dict)]
    contact = next((c for c in contacts if is_emergency(c)), None)
    if contact is None:
        return patients_domain.EmergencyContact()
    name = contact.get("name") or {}
    full = str(name.get("text") or " ".join([*map(str, name.get("given", [])), str(name.get("family") or "")]))
    relation = next(
        (
            _text_of(relationship)
            for relationship in contact.get("relationship", [])
            if not any(coding.get("code") == code for coding in relationship.get("coding", []))
            and _text_of(relationship)
        ),
        "",
    )
    return patients_domain.EmergencyContact(
        name=" ".join(full.split()), relation=relation, phone=_telecom(contact.get("telecom", []), "phone")
    )


def _order_status(resource: dict) -> tuple[medications_domain.OrderStatus, dict]:
    """Return the order's status and, for a stopped order, its stop date, reason and note."""
    status = resource.get("status")
    statuses = medications_domain.OrderStatus
    if status in ("active", "on-hold", "completed"):
        return {"active": statuses.ACTIVE, "on-hold": statuses.ON_HOLD, "completed": statuses.COMPLETED}[status], {}
    if status == "stopped":
        reason_concept = resource.get("statusReason") or {}
        reason_code = str(_code_of(reason_concept, mapping.NOVAMIND_CODES) or "").removeprefix(REASON_PREFIX)
        try:
            reason = medications_domain.DiscontinueReason(reason_code)
        except ValueError:
            reason = medications_domain.DiscontinueReason.OTHER
        # NovaMind's own export writes the stop note as the reason's text; another system's words are
        # the reason itself, kept as the note of "Other".
        note = str(reason_concept.get("text") or "").strip()
        if reason is medications_domain.DiscontinueReason.OTHER and not note:
            note = _text_of(reason_concept)
        stopped = _stop_date(resource)
        if stopped is None:
            raise Refused(
                "It is stopped but gives no full date it stopped (the end of its dispense validity period): "
                "a discontinued order needs that date, which is never guessed."
            )
        if reason is medications_domain.DiscontinueReason.OTHER and not note:
            note = "Stopped, as recorded in the other system."
        return statuses.DISCONTINUED, {
            "discontinued_on": stopped,
            "discontinue_reason": reason,
            "discontinue_note": note,
        }
    if status == "entered-in-error":
        stopped = _stop_date(resource)
        if stopped is None:
            raise Refused(
                "It was entered in error in its source and gives no date (the end of its dispense validity "
                "period) to retire it on: an order entered in error is kept discontinued from that date."
            )
        return statuses.DISCONTINUED, {
            "discontinued_on": stopped,
            "discontinue_reason": medications_domain.DiscontinueReason.ENTERED_IN_ERROR,
        }
    reasons = {
        "cancelled": "it was cancelled before it was taken",
        "draft": "it is a draft, not yet an order",
        "unknown": "its source does not know its status",
    }
    raise Refused(f"Its status is {status}: {reasons.get(status, 'not a status NovaMind records')}; nothing to record.")


def _stop_date(resource: dict) -> dt.date | None:
    return _date(((resource.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("end"))


def _dosage(order: medications_domain.MedicationOrder, resource: dict, entry: Entry):
    """Return `order` with what its first dosage instruction says that NovaMind can hold."""
    dosages = [d for d in resource.get("dosageInstruction", []) if isinstance(d, dict)]
    if not dosages:
        return order
    if len(dosages) > 1:
        entry.notes.append(f"only its first of {len(dosages)} dosage instructions is structured; all are in its text")
    dosage = dosages[0]
    changes: dict = {}
    route_text = str((dosage.get("route") or {}).get("text") or "").strip()
    if route_text in ROUTE_LABELS:  # NovaMind's own export writes the route in its words
        changes["route"] = ROUTE_LABELS[route_text]
    for coding in (dosage.get("route") or {}).get("coding", []):
        if coding.get("system") == SNOMED and coding.get("code") in ROUTES:
            changes["route"] = ROUTES[coding["code"]]
        elif coding.get("system") == mapping.NOVAMIND_CODES:
            try:
                changes["route"] = medications_domain.Route(coding.get("code"))
            except ValueError:
                pass
    for rate in dosage.get("doseAndRate", []):
        quantity = rate.get("doseQuantity") or {}
        amount = _decimal(quantity.get("value"))
        unit = _dose_unit(quantity)
        if amount is not None and amount > 0 and unit is not None:
            changes.update(dose_amount=amount, dose_unit=unit)
            break
    as_needed_text = _text_of(dosage.get("asNeededCodeableConcept"))
    kind, interval = _frequency(dosage.get("timing") or {}, as_needed_text)
    if as_needed_text:
        changes["frequency"] = medications_domain.Frequency(
            kind=kind or medications_domain.FrequencyKind.AS_NEEDED,
            interval=interval,
            as_needed=True,
            indication=as_needed_text[: medications_domain.INDICATION_MAX],
        )
    elif kind is not None and not dosage.get("asNeededBoolean"):
        changes["frequency"] = medications_domain.Frequency(kind=kind, interval=interval)
    structured = dataclasses.replace(order, **changes)
    # The directions in words are kept as instructions, unless they say no more than the dose,
    # route and frequency already structured (as NovaMind's own export writes them).
    texts = [str(d.get("text")) for d in dosages if d.get("text") and str(d.get("text")) != structured.sig]
    texts += [str(d.get("patientInstruction")) for d in dosages if d.get("patientInstruction")]
    return dataclasses.replace(structured, instructions="\n".join(dict.fromkeys(texts)))


def _dose_unit(quantity: dict):
    code = quantity.get("code") or quantity.get("unit")
    if code in FORM_UNITS:
        return FORM_UNITS[code]
    if code in UNIT_LABELS:
        return UNIT_LABELS[code]
    try:
        return medications_domain.DoseUnit(code)
    except ValueError:
        return None


def _frequency(timing: dict, indication: str = ""):
    """Return (kind, interval) of a Timing NovaMind can hold, or (None, None)."""
    code = _code_of(timing.get("code"), "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation")
    if code in TIMING_CODES:
        return TIMING_CODES[code], None
    words = str((timing.get("code") or {}).get("text") or "").strip()
    if words:  # NovaMind's own export: the frequency in its words ("every 8 hours as needed for panic")
        words = words.removesuffix(f" for {indication}") if indication else words
        words = words.removesuffix(" as needed")
        if words in FREQUENCY_LABELS:
            return FREQUENCY_LABELS[words], None
        if every := re.fullmatch(r"every (\d+) (hour|week)s?", words):
            kinds = medications_domain.FrequencyKind
            return kinds.EVERY_N_HOURS if every[2] == "hour" else kinds.EVERY_N_WEEKS, int(every[1])
    repeat = timing.get("repeat") or {}
    frequency, period, unit = repeat.get("frequency", 1), repeat.get("period"), repeat.get("periodUnit")
    kinds = medications_domain.FrequencyKind
    if period == 1 and unit == "d" and frequency in TIMES_A_DAY:
        return TIMES_A_DAY[frequency], None
    if frequency == 1 and unit == "h" and isinstance(period, int) and 1 <= period <= 72:
        return kinds.EVERY_N_HOURS, period
    if frequency == 1 and unit == "wk" and period == 1:
        return kinds.ONCE_WEEKLY, None
    if frequency == 1 and unit == "wk" and isinstance(period, int) and 1 <= period <= 12:
        return kinds.EVERY_N_WEEKS, period
    return None, None


def _source(resource: dict) -> str:
    """Return where an order prescribed elsewhere comes from, in words (kept encrypted on the order)."""
    parts = [f"FHIR MedicationRequest/{resource.get('id')}" if resource.get("id") else "FHIR MedicationRequest"]
    for identifier in resource.get("identifier", []):
        if identifier.get("value"):
            parts.append(f"identifier {identifier.get('system') or '(no system)'} {identifier['value']}")
    requester = (resource.get("requester") or {}).get("display")
    if requester:
        parts.append(f"prescribed by {requester}")
    return "; ".join(parts)[: medications_domain.TEXT_MAX]


def iter_report(outcome: Outcome) -> Iterator[tuple[bool, str]]:
    """Yield (refused, line) for each resource, in the file's order."""
    verbs = {"created": "would be created", "matched": "would be matched", "recorded": "would be recorded"}
    skipped: dict[str, int] = {}
    for entry in outcome.entries:
        if entry.kind in REFERENCED_ONLY and not entry.refusal:
            continue
        if entry.action == "skipped":
            skipped[entry.kind] = skipped.get(entry.kind, 0) + 1
            continue
        if entry.refusal:
            yield True, f"{entry.label}: refused. {entry.refusal}"
            continue
        action = verbs[entry.action] if outcome.dry_run or outcome.refused else entry.action
        detail = f" {entry.detail}" if entry.detail and not (outcome.dry_run and entry.action == "created") else ""
        notes = f" Note: {'; '.join(entry.notes)}." if entry.notes else ""
        yield False, f"{entry.label}: {action}{detail}.{notes}"
    if skipped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items()))
        yield False, f"Skipped, not imported (only {', '.join(SUPPORTED)} are): {kinds}."
