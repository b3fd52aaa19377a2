"""PHI encryption at rest: strict encrypted model fields on top of django-encrypted-model-fields.

The library encrypts with Fernet (AES-128-CBC + HMAC-SHA256) under `FIELD_ENCRYPTION_KEY`
(a list: the first key encrypts, every key decrypts, which is how keys rotate). Three of its
behaviours are unsafe for PHI and are changed here:

- its `to_python` swallows `InvalidToken`, so with a wrong key a field holds the ciphertext as
  if it were data, and the next save encrypts that ciphertext again. Here a value read from the
  database must decrypt or `DecryptionError` is raised; values from forms and code are never
  "decrypted" (a pasted token stays text);
- `filter()` on an encrypted column silently matches nothing and `order_by` sorts ciphertext.
  Here every lookup but `isnull` raises `EncryptedFieldQueryError`, and so does ordering
  (see `AuditedQuerySet.order_by`): search goes through a blind index instead;
- its crypter is built once at import; `reload_keys()` rebuilds it from settings;
- it encrypts under whatever key is configured. Here the first write to a database (after each
  `reload_keys()`) decrypts the encryption canary first, and a key that cannot is refused with
  `WrongKeyError` before anything is written: data encrypted under a wrong key could never
  be read with the right one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading

import cryptography.fernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, FieldError
from encrypted_model_fields import fields as library


class DecryptionError(Exception):
    """A stored value does not decrypt under the configured FIELD_ENCRYPTION_KEY."""


class WrongKeyError(DecryptionError):
    """FIELD_ENCRYPTION_KEY cannot decrypt the encryption canary, so a write under it was refused."""


class EncryptedFieldQueryError(FieldError):
    """A query filtered or ordered on an encrypted column, which can only match ciphertext."""


# The value of the encryption canary (novamind.models.EncryptionCanary) once decrypted.
CANARY_PLAINTEXT = "novamind encryption canary v1"

# Databases (alias, name) whose canary the current crypter has decrypted; emptied by reload_keys().
_writable: set[tuple[str, str]] = set()
_writable_lock = threading.Lock()


def encrypt(plaintext: str) -> str:
    """Return the Fernet token of `plaintext` under the first configured key."""
    return library.CRYPTER.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Return the plaintext of `token`, or raise DecryptionError."""
    if isinstance(token, bytes):
        token = token.decode("ascii")
    try:
        return library.CRYPTER.decrypt(token.encode("ascii")).decode("utf-8")
    except (cryptography.fernet.InvalidToken, UnicodeError, ValueError) as error:
        raise DecryptionError(
            "A stored value does not decrypt with FIELD_ENCRYPTION_KEY: the key is wrong or "
            "missing, or the data was changed outside the application. Nothing was changed."
        ) from error


def reload_keys() -> None:
    """Rebuild the crypter from settings.FIELD_ENCRYPTION_KEY."""
    with _writable_lock:
        library.CRYPTER = library.get_crypter()
        _writable.clear()


def require_writable_key(connection) -> None:
    """Raise WrongKeyError unless the configured keys decrypt the canary of `connection`'s database.

    Checked once per database and key set: the first encrypted write pays one query. A database
    without a canary yet (before the first `migrate` has finished) holds no ciphertext, so any
    key may write; the check is repeated until the canary exists.
    """
    database = (connection.alias, str(connection.settings_dict["NAME"]))
    if database in _writable:
        return
    crypter = library.CRYPTER
    table = apps.get_model("novamind", "EncryptionCanary")._meta.db_table
    if table not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        # Raw SQL: this runs while another model's INSERT is being compiled.
        cursor.execute(f"SELECT value FROM {connection.ops.quote_name(table)}")
        tokens = [row[0] for row in cursor.fetchall()]
    if not tokens:
        return
    for token in tokens:
        try:
            plaintext = decrypt(token)
        except DecryptionError:
            plaintext = None
        if plaintext != CANARY_PLAINTEXT:
            raise WrongKeyError(
                f"FIELD_ENCRYPTION_KEY cannot decrypt the encryption canary of database '{connection.alias}': "
                f"the key is wrong, and data written under it could never be read with the right one. "
                f"Nothing was saved."
            )
    with _writable_lock:
        if library.CRYPTER is crypter:  # the keys did not change while the canary was read
            _writable.add(database)


@contextlib.contextmanager
def keys(key_list: list[str]):
    """Use `key_list` as FIELD_ENCRYPTION_KEY inside the block (tests, key rotation)."""
    previous = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = list(key_list)
    reload_keys()
    try:
        yield
    finally:
        settings.FIELD_ENCRYPTION_KEY = previous
        reload_keys()


class StrictEncryptedMixin:
    """Decrypt strictly on read, never on assignment, and refuse queries on the ciphertext."""

    encrypted = True

    def to_python(self, value):
        # Skip the library's decrypt-or-pass-through: values here come from forms and code.
        return super(library.EncryptedMixin, self).to_python(value)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return self.to_python(decrypt(value))

    def get_db_prep_save(self, value, connection):
        if value is not None:
            require_writable_key(connection)
        return super().get_db_prep_save(value, connection)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise EncryptedFieldQueryError(
            f"'{self.model.__name__}.{self.name}' is encrypted: a '{lookup_name}' lookup would "
            f"compare ciphertext and match nothing. Search through its blind index instead."
        )

    def get_transform(self, lookup_name):
        raise EncryptedFieldQueryError(
            f"'{self.model.__name__}.{self.name}' is encrypted and has no '{lookup_name}' transform."
        )


class EncryptedCharField(StrictEncryptedMixin, library.EncryptedCharField):
    """A CharField stored as a Fernet token."""


class EncryptedTextField(StrictEncryptedMixin, library.EncryptedTextField):
    """A TextField stored as a Fernet token."""


class EncryptedDateField(StrictEncryptedMixin, library.EncryptedDateField):
    """A DateField stored as a Fernet token of its ISO date."""


class EncryptedEmailField(StrictEncryptedMixin, library.EncryptedEmailField):
    """An EmailField stored as a Fernet token."""


def is_encrypted(field) -> bool:
    """Return whether `field` stores ciphertext."""
    return getattr(field, "encrypted", False)


def check_orderable(model, field_names) -> None:
    """Raise EncryptedFieldQueryError when any ordering term names an encrypted field."""
    for term in field_names:
        if not isinstance(term, str) or term == "?":
            continue
        current = model
        field = None
        for part in term.lstrip("-+").split("__"):
            if current is None:
                break
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                field = None
                break
            current = field.related_model if field.is_relation else None
        if field is not None and is_encrypted(field):
            raise EncryptedFieldQueryError(
                f"Cannot order by '{term}': it is encrypted, so the database would sort "
                f"ciphertext. Sort in Python after loading, or by a plaintext column."
            )


# A key's fingerprint is an HMAC of a fixed label under the key: it names the key in manifests
# and reports without revealing it (a Fernet key is 256 random bits, so it cannot be guessed
# back from its fingerprint), and two deployments' fingerprints agree only if their keys do.
FINGERPRINT_LABEL = b"novamind.key-fingerprint.v1"


def fingerprint(key: str) -> str:
    """Return the fingerprint of the Fernet key `key`: 16 hex digits that identify it, never reveal it."""
    return hmac.new(key.encode("utf-8"), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def configured_fingerprints() -> list[str]:
    """Return the fingerprint of every FIELD_ENCRYPTION_KEY entry, the encrypting key first."""
    return [fingerprint(key) for key in settings.FIELD_ENCRYPTION_KEY]


def canary_decrypts(connection) -> bool | None:
    """Return whether the configured keys decrypt every encryption canary of `connection`'s database.

    None when the database holds no canary (never migrated). Reads the raw tokens, as
    `require_writable_key` does, and caches nothing.
    """
    table = apps.get_model("novamind", "EncryptionCanary")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {connection.ops.quote_name(table)}")
        tokens = [row[0] for row in cursor.fetchall()]
    if not tokens:
        return None
    for token in tokens:
        try:
            if decrypt(token) != CANARY_PLAINTEXT:
                return False
        except DecryptionError:
            return False
    return True
