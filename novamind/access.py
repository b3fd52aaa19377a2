"""The read-access audit log: record every access to PHI, and verify the chain.

`record()` appends one entry in the caller's transaction (or its own), chained by HMAC to the
previous entry under a lock on the chain head, so entries form one unbroken sequence even when
staff read at the same moment.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import ipaddress
import json

from django.conf import settings
from django.db import transaction

from novamind import chains
from novamind.models import AccessLogEntry, AccessLogHead, HistoryErasure

GRANTED = "granted"
REFUSED = "refused"
CHAINED_FIELDS = (
    "sequence",
    "occurred_at",
    "user_id",
    "username",
    "patient_id",
    "patient_mrn",
    "action",
    "category",
    "outcome",
    "object_type",
    "object_id",
    "source_address",
    "emergency",
    "detail",
)


@dataclasses.dataclass(frozen=True)
class PatientRef:
    """A patient named by id and MRN, for `record()`, without loading (or decrypting) the record."""

    id: object
    mrn: str


def _no_emergency(user, patient_id) -> bool:
    return False


_emergency_rule = _no_emergency


def emergency_rule(rule) -> None:
    """Install the access policy's rule that flags an access as made only under an emergency grant.

    The kernel knows no patients; the patients app installs its policy here when it is ready.
    """
    global _emergency_rule
    _emergency_rule = rule


@functools.lru_cache(maxsize=64)
def _trusted_proxy(address: str, trusted: tuple[str, ...]) -> bool:
    """Return whether `address` is one of the trusted proxies (addresses or networks, as gunicorn reads them)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted if entry.strip())


def client_address(request) -> str | None:
    """Return the address the request came from: REMOTE_ADDR, or what a trusted proxy saw.

    Behind a reverse proxy every request comes from the proxy's address. When REMOTE_ADDR is one
    of NOVAMIND_TRUSTED_PROXIES, the last X-Forwarded-For entry is the client as the proxy saw it
    (entries before it were written by the client, and are not believed). The login lockout
    (AXES_CLIENT_IP_CALLABLE) and the access log both read the address here, so they agree.
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR")
    if remote and _trusted_proxy(remote, tuple(settings.NOVAMIND_TRUSTED_PROXIES)):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            return remote  # no usable header: the proxy is the only address known
    return remote


def record(
    *,
    user,
    action: str,
    category: str,
    patient=None,
    outcome: str = GRANTED,
    obj=None,
    request=None,
    detail: str = "",
    emergency: bool = False,
) -> AccessLogEntry:
    """Append an access-log entry: `user` did `action` on `category` data of `patient`.

    `patient` is a patients.models.Patient, a domain Patient, or None (e.g. a search with no
    hit); `obj` is the record read, if any. `detail` must not contain PHI. The entry is flagged
    `emergency` when the user sees the patient only through an emergency grant: the access
    policy decides that (`patients.policy.emergency_for`, installed by `emergency_rule()`).
    """
    emergency = emergency or _emergency_rule(user, getattr(patient, "id", None))
    with transaction.atomic():
        head = AccessLogHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head, _ = AccessLogHead.objects.get_or_create(pk=1)
            head = AccessLogHead.objects.select_for_update().get(pk=1)
        entry = AccessLogEntry(
            sequence=head.sequence + 1,
            user=user if getattr(user, "pk", None) else None,
            username=user.get_username() if getattr(user, "pk", None) else "(anonymous)",
            patient_id=getattr(patient, "id", None),
            patient_mrn=getattr(patient, "mrn", "") or "",
            action=action,
            category=category,
            outcome=outcome,
            object_type=obj._meta.label_lower if obj is not None and hasattr(obj, "_meta") else "",
            object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
            source_address=client_address(request),
            emergency=emergency,
            detail=detail[:255],
            previous_digest=head.digest,
        )
        entry.digest = compute_digest(entry)
        entry.save(force_insert=True)
        head.sequence, head.digest = entry.sequence, entry.digest
        head.save(update_fields=["sequence", "digest"])
    return entry


def canonical(entry: AccessLogEntry) -> bytes:
    """Return the bytes the digest covers: every field, in a fixed form, plus the link."""
    content = {}
    for name in CHAINED_FIELDS:
        value = getattr(entry, name)
        if name == "occurred_at":
            value = value.isoformat(timespec="microseconds")
        content[name] = None if value is None else str(value)
    content["previous_digest"] = entry.previous_digest
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")


def compute_digest(entry: AccessLogEntry) -> str:
    """Return the HMAC-SHA256 of the entry under AUDIT_LOG_KEY."""
    return hmac.new(settings.AUDIT_LOG_KEY.encode("utf-8"), canonical(entry), hashlib.sha256).hexdigest()


Verification = chains.Verification


def _anchors():
    """Return the log's retention anchors: where months dropped under retention ended (novamind.partitions)."""
    return HistoryErasure.objects.filter(table=AccessLogEntry._meta.db_table)


def anchors() -> list[HistoryErasure]:
    """Return the retention anchors of the log, oldest first."""
    return list(_anchors().order_by("sequence"))


def verify(batch_size: int = 2000) -> Verification:
    """Walk the chain in order, from its start or its newest retention anchor, and report every entry that breaks it."""
    from novamind.history_chain import erasure_mac

    problems: list[str] = []
    previous_digest, expected_sequence, checked = "", 1, 0
    for anchor in anchors():
        if not hmac.compare_digest(anchor.mac, erasure_mac(anchor)):
            problems.append(
                f"the retention anchor at entry #{anchor.sequence} was not written by NovaMind (its MAC does not match)"
            )
        # Months up to the anchor were dropped under retention: the chain goes on from its digest.
        previous_digest, expected_sequence = anchor.digest, anchor.sequence + 1
    entries = (
        AccessLogEntry.objects.filter(sequence__gte=expected_sequence)
        .order_by("sequence")
        .iterator(chunk_size=batch_size)
    )
    for entry in entries:
        checked += 1
        if entry.sequence != expected_sequence:
            problems.append(
                f"entry #{expected_sequence}"
                + (f"–#{entry.sequence - 1}" if entry.sequence - 1 > expected_sequence else "")
                + " is missing (deleted)"
            )
        problems.extend(link_problems(entry, previous_digest))
        previous_digest, expected_sequence = entry.digest, entry.sequence + 1
    head = AccessLogHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != expected_sequence - 1 or head.digest != previous_digest):
        problems.append(
            f"the log ends at #{expected_sequence - 1} but entries up to #{head.sequence} were written (entries removed from the end)"
        )
    return Verification(checked=checked, problems=problems)


def link_problems(entry: AccessLogEntry, previous_digest: str) -> list[str]:
    """Return what breaks the chain at `entry`, given the digest of the entry before it."""
    problems = []
    if entry.previous_digest != previous_digest:
        problems.append(f"entry #{entry.sequence} does not follow the entry before it (deleted or reordered)")
    if not hmac.compare_digest(entry.digest, compute_digest(entry)):
        problems.append(f"entry #{entry.sequence} was altered (its digest does not match its content)")
    return problems


def entry_problems(entry: AccessLogEntry) -> list[str]:
    """Return what breaks the chain at `entry` alone: its content, and its link to the entry before it.

    A page about one entry reads one more row; only `verify` sees the whole chain (entries removed
    from the end, or before an earlier one).
    """
    if entry.sequence == 1:
        return link_problems(entry, "")
    previous = AccessLogEntry.objects.filter(sequence=entry.sequence - 1).values_list("digest", flat=True).first()
    if previous is None:
        # The entry before it may have been dropped with its month, leaving the anchor in its place.
        previous = _anchor_digest(entry.sequence - 1)
    if previous is None:
        # Its link cannot be checked; its own content can.
        return [f"entry #{entry.sequence - 1} is missing (deleted)", *link_problems(entry, entry.previous_digest)]
    return link_problems(entry, previous)


def _anchor_digest(sequence: int) -> str | None:
    return _anchors().filter(sequence=sequence).values_list("digest", flat=True).first()


class AccessLogChain:
    """The access log as one of the audit trail's chains (see novamind.chains)."""

    name = "novamind_accesslogentry"
    label = "access log"

    def state(self) -> chains.ChainState:
        """Return the log's last entry, as the entries (not the head row) say."""
        last = AccessLogEntry.objects.order_by("-sequence").values_list("sequence", "digest").first()
        sequence, digest = last or (0, "")
        return chains.ChainState(self.name, sequence, digest, AccessLogEntry.objects.count())

    def digest_at(self, sequence: int) -> str | None:
        """Return the digest of entry #`sequence`, if it is there, or of the retention anchor standing in for it."""
        digest = AccessLogEntry.objects.filter(sequence=sequence).values_list("digest", flat=True).first()
        return digest if digest is not None else _anchor_digest(sequence)

    def retired_through(self) -> int:
        """Return the last sequence dropped under retention (0: none); no link up to it can be looked up."""
        return _anchors().order_by("-sequence").values_list("sequence", flat=True).first() or 0

    def verify(self) -> chains.Verification:
        """Walk the log (see `verify`)."""
        return verify()
