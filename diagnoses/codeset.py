"""The ICD-10-CM code set: the billable codes and their official descriptions, as shipped data.

ICD-10-CM is maintained by CMS and the CDC's National Center for Health Statistics and is free
to use. The codes and descriptions here are the April 1, 2026 update of fiscal year 2026, taken
from the maintained package `simple-icd-10-cm` (pinned in requirements.txt). That package parses
the whole tabular list at import (2 s, about 190 MB of memory), too heavy for every web worker,
so `manage.py build_icd10cm` writes its billable (leaf) codes once to `data/` and the app reads
that file (about 15 MB in memory, on first use); a test proves the file and the package agree.

Only ICD-10-CM descriptions are used: DSM-5 names are copyrighted. Standard library only.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Iterator
from pathlib import Path

CODE_SET = "ICD-10-CM, April 1, 2026 update (FY2026)"
DATA_FILE = Path(__file__).resolve().parent / "data" / "icd10cm-2026-04-billable.tsv.gz"
CODE_MAX = 8  # "S72.001A": three characters, a dot, up to four more
SEARCH_LIMIT = 20

_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def normalize(code: str) -> str:
    """Return `code` as the code set writes it: upper case, with its dot ("f321" gives "F32.1")."""
    compact = re.sub(r"[\s.]", "", code or "").upper()
    return f"{compact[:3]}.{compact[3:]}" if len(compact) > 3 else compact


def shipped(path: Path | None = None) -> Iterator[tuple[str, str]]:
    """Yield every code and its description from the shipped data file (or `path`), in its order."""
    with gzip.open(path or DATA_FILE, "rt", encoding="utf-8") as rows:
        for line in rows:
            if line.strip():
                code, description = line.rstrip("\n").split("\t", 1)
                yield code, description


@functools.cache
def _billable() -> dict[str, str]:
    return dict(shipped())


@functools.cache
def _folded() -> list[tuple[str, str, str]]:
    return [(code, description, description.casefold()) for code, description in _billable().items()]


def describe(code: str) -> str | None:
    """Return the official description of a billable code, or None when `code` is not one."""
    return _billable().get(normalize(code))


def why_not_billable(code: str) -> str | None:
    """Return why `code` may not be recorded (unknown, or a category with more specific codes), or None."""
    normalized = normalize(code)
    if normalized in _billable():
        return None
    if not _CODE_SHAPE.match(normalized):
        return f"“{code}” is not an ICD-10-CM code (a letter, two characters, then up to four after a dot: F32.1)."
    prefix = normalized.replace(".", "")
    if any(other.replace(".", "").startswith(prefix) for other in _billable()):
        return f"{normalized} is a category, not a billable code: choose one of its more specific codes."
    return f"{normalized} is not in the {CODE_SET} code set."


def search(query: str, *, limit: int = SEARCH_LIMIT) -> list[tuple[str, str]]:
    """Return billable codes matching `query`: by code prefix ("F32"), else by every word ("major depressive")."""
    text = (query or "").strip()
    if not text:
        return []
    prefix = normalize(text)
    if _CODE_SHAPE.match(prefix) or re.fullmatch(r"[A-Z][0-9]{0,2}", prefix):
        found = [(code, description) for code, description in _billable().items() if code.startswith(prefix)]
        if found:
            return found[:limit]
    words = text.casefold().split()
    return [(code, description) for code, description, folded in _folded() if all(w in folded for w in words)][:limit]


def from_package() -> Iterator[tuple[str, str]]:
    """Yield every billable code and its description from `simple-icd-10-cm`, in the code set's order."""
    import simple_icd_10_cm as icd  # heavy (see the module docstring): only the builder and its test load it

    for code in icd.get_all_codes(with_dots=True):
        if icd.is_leaf(code) and not icd.is_chapter_or_block(code):
            yield code, icd.get_description(code)


def write(rows: Iterator[tuple[str, str]], path: Path | None = None) -> int:
    """Write `rows` as the shipped data file, or to `path` (reproducibly: no timestamp in the gzip header); return how many."""
    count = 0
    with open(path or DATA_FILE, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        for code, description in rows:
            out.write(f"{code}\t{description}\n".encode())
            count += 1
    _billable.cache_clear()
    _folded.cache_clear()
    return count
