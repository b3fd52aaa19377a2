"""Blind indexes: exact-match search over encrypted fields.

A blind index is HMAC-SHA256 under `BLIND_INDEX_KEY` (a key separate from the encryption key)
of a normalised value, prefixed by its purpose so equal values in different fields do not
produce equal digests. It is stored in an indexed column beside the ciphertext, so a lookup is
an ordinary B-tree equality search. It reveals equality only, never the value; without the
key it cannot be brute-forced even for small domains such as dates of birth.

A prefix index (`of_prefix`) is the blind index of the first letters of a name, under a purpose
that names their number, so that staff can search by the start of a name. It reveals which
values share those first letters, and no more (README, "Security model").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata

from django.conf import settings
from django.db import models

DIGEST_LENGTH = 64
PREFIX_MIN = 3  # fewer letters are looked up as a whole name, never as the start of one


def normalize_text(value: str) -> str:
    """Return `value` without case, accents, apostrophes, punctuation or repeated spaces.

    "Zoë O'Brien" and "zoe obrien" give the same text; a hyphen separates words like a space.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    without_apostrophes = re.sub(r"['\u2019`\u02bc]", "", without_marks)
    words = re.split(r"[^\w]+|_", without_apostrophes.casefold())
    return " ".join(word for word in words if word)


def normalize_prefix(value: str) -> str:
    """Return `value` normalised as names are (`normalize_text`), without its spaces.

    "De la Cruz" gives "delacruz": staff need not know where a name's words break.
    """
    return normalize_text(value).replace(" ", "")


def normalize_phone(value: str) -> str:
    """Return the digits of `value` (an E.164 number keeps its country code)."""
    return re.sub(r"\D", "", value)


def normalize_email(value: str) -> str:
    """Return `value` trimmed and case-folded."""
    return value.strip().casefold()


def normalize_date(value: dt.date) -> str:
    """Return the ISO form of `value`."""
    return value.isoformat()


def digest(purpose: str, normalized: str) -> str:
    """Return the blind index of an already normalised value."""
    key = settings.BLIND_INDEX_KEY.encode("utf-8")
    message = f"{purpose}\x00{normalized}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def of_text(purpose: str, value: str | None) -> str | None:
    """Return the blind index of a name-like text, or None when it is empty."""
    normalized = normalize_text(value or "")
    return digest(purpose, normalized) if normalized else None


def of_prefix(purpose: str, value: str | None, length: int, *, qualifier: str = "") -> str | None:
    """Return the blind index of the first `length` letters of a name-like text, or None when it is empty.

    The length is part of the purpose, so the prefixes of one name are unrelated digests. A text
    shorter than `length` is indexed whole: the digest of "Li" for length 3 is the one a search
    for "li" computes, and no longer name has it. `qualifier` (a birth year, say) is hashed with
    the letters: the digest then says nothing about the letters alone.
    """
    normalized = normalize_prefix(value or "")
    if not normalized:
        return None
    letters = normalized[:length]
    return digest(f"{purpose}:{length}", f"{letters}\x00{qualifier}" if qualifier else letters)


def prefix_length(term: str, *, longest: int) -> int:
    """Return how many letters a search for the start of `term` looks up: as typed, from PREFIX_MIN to `longest`."""
    return min(max(len(normalize_prefix(term)), PREFIX_MIN), longest)


def of_phone(purpose: str, value: str | None) -> str | None:
    """Return the blind index of a phone number, or None when it has no digits."""
    normalized = normalize_phone(value or "")
    return digest(purpose, normalized) if normalized else None


def of_email(purpose: str, value: str | None) -> str | None:
    """Return the blind index of an e-mail address, or None when it is empty."""
    normalized = normalize_email(value or "")
    return digest(purpose, normalized) if normalized else None


def of_date(purpose: str, value: dt.date | None) -> str | None:
    """Return the blind index of a date, or None."""
    return digest(purpose, normalize_date(value)) if value else None


class BlindIndexField(models.CharField):
    """An indexed hex HMAC column, derived on save; never edited by hand."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", DIGEST_LENGTH)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)
