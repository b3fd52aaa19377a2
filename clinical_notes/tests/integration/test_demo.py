"""seed_demo creates notes in every state, in each clinician's name, and nothing new on a second run."""

import io

import pytest
from django.core.management import call_command

from clinical_notes import models

pytestmark = pytest.mark.django_db


def seed():
    call_command("seed_demo", "--patients", "30", stdout=io.StringIO())


def test_seed_demo_creates_signed_notes_drafts_addenda_and_co_signatures_by_their_authors():
    seed()
    notes = models.ClinicalNote.objects.all()
    assert notes.filter(status="signed").exists() and notes.filter(status="draft").exists()
    assert models.Addendum.objects.exists()
    assert notes.filter(kind="psychotherapy_note").exists()
    assert notes.filter(cosigned_by__isnull=False).exists()
    assert set(notes.values_list("author__username", flat=True)) <= {"drlee", "drpatel", "msmith"}
    for note in notes.filter(status="signed"):
        assert note.content_hash == note.to_domain().compute_hash()
    out = io.StringIO()
    call_command("verify_notes", "--actor", "admin", stdout=out)
    assert "match" in out.getvalue()


def test_seed_demo_twice_creates_no_new_notes():
    seed()
    before = (models.ClinicalNote.objects.count(), models.ClinicalNote.history.count(), models.Addendum.objects.count())
    seed()
    after = (models.ClinicalNote.objects.count(), models.ClinicalNote.history.count(), models.Addendum.objects.count())
    assert after == before and before[0] > 0
