"""The shipped code set is exactly what the pinned simple-icd-10-cm package holds (a few seconds: it parses the package)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from diagnoses import codeset


def test_the_shipped_file_is_the_packages_billable_codes_byte_for_byte(tmp_path):
    built = tmp_path / "built.tsv.gz"
    count = codeset.write(codeset.from_package(), built)
    assert built.read_bytes() == codeset.DATA_FILE.read_bytes()  # no timestamp: the build is reproducible
    assert count == len(list(codeset.shipped())) > 70_000
    assert dict(codeset.shipped())["F32.1"] == "Major depressive disorder, single episode, moderate"


def test_build_icd10cm_writes_the_file_and_check_finds_a_file_that_differs(tmp_path, monkeypatch):
    shipped = codeset.DATA_FILE.read_bytes()
    target = tmp_path / codeset.DATA_FILE.name
    monkeypatch.setattr(codeset, "DATA_FILE", target)
    out = io.StringIO()
    call_command("build_icd10cm", stdout=out)
    assert target.read_bytes() == shipped
    assert f"Wrote {len(list(codeset.shipped()))} billable codes of the ICD-10-CM" in out.getvalue()
    out = io.StringIO()
    call_command("build_icd10cm", "--check", stdout=out)
    assert "matches the package" in out.getvalue()
    codeset.write(iter([("F32.1", "Major depressive disorder, single episode, moderate")]))
    with pytest.raises(CommandError, match="differs from the package"):
        call_command("build_icd10cm", "--check", stdout=io.StringIO())
    monkeypatch.undo()
    codeset.write(iter([]), tmp_path / "empty.tsv.gz")  # clears the caches filled from the stand-in file
