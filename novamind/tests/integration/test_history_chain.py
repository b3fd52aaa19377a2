"""The change history is a chain too: altering, deleting, inserting or moving a history row is detected."""

import dataclasses
import datetime as dt
import io
import threading

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.utils import timezone

from conftest import make_staff
from novamind import chains, history_chain
from novamind.models import HistoryChainHead, HistoryErasure
from patients import domain, models, services

pytestmark = pytest.mark.django_db

HISTORY = models.Patient.history.model
TABLE = HISTORY._meta.db_table


@pytest.fixture
def desk(db):
    return make_staff("desk", superuser=True)


@pytest.fixture
def history(desk):
    """Two patients, the first changed three times: five sealed history rows, #1–#5, in writing order."""
    first = services.patient_register(
        patient=domain.Patient(legal_first_name="Ada", legal_last_name="Byron", date_of_birth=dt.date(1980, 5, 1)),
        actor=desk,
    )
    services.patient_register(
        patient=domain.Patient(legal_first_name="Alan", legal_last_name="Turing", date_of_birth=dt.date(1970, 6, 2)),
        actor=desk,
    )
    for phone in ("+1 212 555 0100", "+1 212 555 0101", "+1 212 555 0102"):
        services.patient_update(patient=dataclasses.replace(_read(first.id), phone=phone), actor=desk)
    return list(HISTORY.objects.order_by("history_sequence"))


def _read(patient_id):
    return models.Patient.objects.get(pk=patient_id).to_domain()


def chain():
    return chains.get(TABLE)


def problems():
    return chain().verify().problems


def test_every_audited_write_is_sealed_in_order_and_the_chains_verify(history):
    assert [row.history_sequence for row in history] == [1, 2, 3, 4, 5]
    assert all(len(row.history_digest) == 64 for row in history)
    assert chain().verify().checked == 5 and problems() == []
    head = HistoryChainHead.objects.get(table=TABLE)
    assert (head.sequence, head.digest) == (5, history[-1].history_digest)
    assert chain().state() == chains.ChainState(TABLE, 5, history[-1].history_digest, 5)
    # Every history table of every audited model is a registered chain, and all of them verify.
    sealed = {model._meta.db_table for model in history_chain.sealed_models()}
    assert sealed >= {TABLE, "clinical_notes_historicalclinicalnote", "novamind_historicalstaffprofile"}
    assert sealed <= {c.name for c in chains.all_chains()}
    assert all(c.verify().ok for c in chains.all_chains())


def test_a_changed_history_value_is_detected(history, hostile_dba):
    hostile_dba(f"UPDATE {TABLE} SET history_change_reason = 'nothing happened' WHERE history_sequence = 3")
    assert problems() == [
        f"history row {history[2].history_id} (#3) was altered or moved (its digest does not match its content and place)"
    ]


def test_ciphertext_moved_between_rows_is_detected(history, hostile_dba):
    # Both tokens decrypt, so only the seal can tell that row #4 now shows row #2's surname.
    hostile_dba(
        f"UPDATE {TABLE} SET legal_last_name = (SELECT legal_last_name FROM {TABLE} WHERE history_sequence = 2) "
        f"WHERE history_sequence = 4"
    )
    assert [p for p in problems() if "#4" in p and "altered" in p]


def test_a_deleted_history_row_is_detected(history, hostile_dba):
    hostile_dba(f"DELETE FROM {TABLE} WHERE history_sequence = 3")
    assert "history row #3 is missing (deleted)" in problems()


def test_a_deleted_last_history_row_is_detected(history, hostile_dba):
    hostile_dba(f"DELETE FROM {TABLE} WHERE history_sequence = 5")
    assert any("ends at #4 but rows up to #5" in p for p in problems())


def test_a_history_row_inserted_without_a_seal_is_detected(history, hostile_dba):
    row = history[0]
    row.history_id, row.history_sequence, row.history_digest = None, None, ""
    row.history_change_reason = "backdated"
    with transaction.atomic():
        # Written below the application, as an insider with a database login would.
        HISTORY.objects.bulk_create([row])
    inserted = HISTORY.objects.get(history_change_reason="backdated")
    assert f"history row {inserted.history_id} has no seal (inserted outside the application)" in problems()


def test_a_history_row_inserted_with_a_made_up_seal_is_detected(history, hostile_dba):
    hostile_dba(f"DELETE FROM {TABLE} WHERE history_sequence = 5")
    row = history[3]
    row.history_id, row.history_sequence = None, 5
    row.history_change_reason = "forged"
    HISTORY.objects.bulk_create([row])  # the digest of #4, under #5: a copy cannot pass
    assert any("#5) was altered or moved" in p for p in problems())


def test_swapped_history_rows_are_detected(history, hostile_dba):
    hostile_dba(f"UPDATE {TABLE} SET history_sequence = 99 WHERE history_sequence = 2")
    hostile_dba(f"UPDATE {TABLE} SET history_sequence = 2 WHERE history_sequence = 3")
    hostile_dba(f"UPDATE {TABLE} SET history_sequence = 3 WHERE history_sequence = 99")
    found = problems()
    assert any("(#2) was altered or moved" in p for p in found) and any("(#3) was altered or moved" in p for p in found)


def test_a_rewound_head_does_not_hide_a_trimmed_tail_from_the_rows_it_points_at(history, hostile_dba):
    hostile_dba(f"DELETE FROM {TABLE} WHERE history_sequence >= 4")
    hostile_dba(
        'UPDATE novamind_historychainhead SET sequence = 3, digest = %s WHERE "table" = %s',
        (history[2].history_digest, TABLE),
    )
    # The database alone now looks whole: this is what the checkpoints outside it are for.
    assert problems() == []
    assert chain().state().sequence == 3


def test_an_erasure_receipt_stands_in_for_a_purged_row(history, database_owner):
    # A purge runs as the database owner (README, "Database roles").
    with transaction.atomic():
        assert (
            history_chain.record_erasure(HISTORY.objects.filter(history_sequence__in=[2, 5]), detail="test purge") == 2
        )
        HISTORY.objects.filter(history_sequence__in=[2, 5]).delete()
    assert problems() == []
    assert chain().digest_at(2) == history[1].history_digest and chain().state().sequence == 5


def test_a_forged_erasure_receipt_does_not_cover_a_deletion(history, hostile_dba):
    hostile_dba(f"DELETE FROM {TABLE} WHERE history_sequence = 3")
    HistoryErasure.objects.create(
        table=TABLE, sequence=3, digest=history[2].history_digest, erased_at=timezone.now(), mac="0" * 64
    )
    assert "the erasure receipt of #3 is forged or altered" in problems()
    assert "history row #3 is missing (deleted)" in problems()


@pytest.mark.django_db(transaction=True)
def test_sealing_needs_the_transaction_of_the_write():
    # Outside a transaction the head would move even if the row were never written.
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the transaction"):
        history_chain.seal(HISTORY, [{}])
    assert not HistoryChainHead.objects.filter(table=TABLE, sequence__gt=0).exists()


def test_the_migration_seals_rows_written_before_the_chain_in_writing_order(history, hostile_dba, database_owner):
    hostile_dba(f"UPDATE {TABLE} SET history_sequence = NULL, history_digest = ''")
    hostile_dba('DELETE FROM novamind_historychainhead WHERE "table" = %s', (TABLE,))
    assert len(problems()) == 5  # five unsealed rows
    history_chain.seal_existing(apps, None, "patients")
    resealed = list(HISTORY.objects.order_by("history_sequence").values_list("history_id", flat=True))
    assert resealed == [row.history_id for row in sorted(history, key=lambda r: (r.history_date, r.history_id))]
    assert problems() == [] and chain().state().sequence == 5


def test_a_value_stored_differently_than_it_was_given_still_verifies(desk):
    # A phone typed with spaces, a date given as text, an aware time in New York: the seal is
    # computed from the values before saving and checked against what the database returns.
    services.patient_register(
        patient=domain.Patient(
            legal_first_name="  Grace ",
            legal_last_name="Hopper",
            date_of_birth=dt.date(1906, 12, 9),
            phone="212 555 0199",
        ),
        actor=desk,
    )
    assert problems() == []


@pytest.fixture
def store(settings, tmp_path):
    settings.NOVAMIND_AUDIT_CHECKPOINT_DIR = str(tmp_path)
    return tmp_path


def verify_audit():
    """Run verify_audit; return its exit status and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue() + err.getvalue() + str(error)
    return 0, out.getvalue() + err.getvalue()


@pytest.mark.parametrize(
    "tampering, named",
    [
        (f"UPDATE {TABLE} SET history_change_reason = 'x' WHERE history_sequence = 2", "(#2) was altered or moved"),
        (f"DELETE FROM {TABLE} WHERE history_sequence = 2", "history row #2 is missing (deleted)"),
        (f"UPDATE {TABLE} SET history_sequence = NULL WHERE history_sequence = 2", "has no seal"),
        (f"UPDATE {TABLE} SET legal_last_name = 'not a token' WHERE history_sequence = 2", "does not decrypt"),
    ],
)
def test_verify_audit_exits_1_and_names_the_tampered_history_row(history, store, hostile_dba, tampering, named):
    assert verify_audit()[0] == 0
    hostile_dba(tampering)
    status, printed = verify_audit()
    assert status == 1 and f"change history of patients ({TABLE}): " in printed and named in printed


def test_a_trimmed_history_tail_with_a_rewound_head_is_caught_by_the_checkpoint(history, store, hostile_dba):
    status, printed = verify_audit()
    assert status == 0 and f"change history of patients ({TABLE}): 5 entries verified." in printed
    test_a_rewound_head_does_not_hide_a_trimmed_tail_from_the_rows_it_points_at(history, hostile_dba)
    status, printed = verify_audit()
    assert status == 1
    assert f"change history of patients ({TABLE})" in printed and "#5" in printed


@pytest.mark.django_db(transaction=True)
def test_staff_saving_at_the_same_moment_are_sealed_one_after_the_other(on_postgres):
    desk = make_staff("racedesk", superuser=True)
    ids = [
        services.patient_register(
            patient=domain.Patient(
                legal_first_name="Race", legal_last_name=f"Runner{n}", date_of_birth=dt.date(1990, 1, n + 1)
            ),
            actor=desk,
        ).id
        for n in range(4)
    ]
    barrier, failures = threading.Barrier(len(ids)), []

    def edit(patient_id):
        try:
            barrier.wait(timeout=30)
            for n in range(5):
                services.patient_update(
                    patient=dataclasses.replace(_read(patient_id), preferred_name=f"P{n}"), actor=desk
                )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit, args=(patient_id,)) for patient_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    sequences = list(HISTORY.objects.order_by("history_sequence").values_list("history_sequence", flat=True))
    assert sequences == list(range(1, 4 + 4 * 5 + 1))
    assert problems() == []


def test_writes_go_on_after_the_head_row_was_deleted(history, desk, hostile_dba):
    hostile_dba('DELETE FROM novamind_historychainhead WHERE "table" = %s', (TABLE,))
    services.patient_update(patient=dataclasses.replace(_read(history[0].id), preferred_name="Ada"), actor=desk)
    assert HISTORY.objects.order_by("-history_sequence").values_list("history_sequence", flat=True).first() == 6
    assert problems() == []
