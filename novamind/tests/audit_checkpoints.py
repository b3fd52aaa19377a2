"""A pytest plugin (pytest.ini: -p): every test keeps its audit checkpoints in a directory of its own.

A checkpoint witnesses the database as one test left it; the next test starts from a rolled-back
database, which the checkpoint would rightly call emptied. So no test may see another's
checkpoints, nor a developer's under var/. A test that looks at its checkpoints sets
NOVAMIND_AUDIT_CHECKPOINT_DIR itself with the `settings` fixture.
"""

import itertools

import pytest

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _audit_checkpoints_of_this_test_only(settings, tmp_path_factory):
    # Named, not created: verify_audit creates it on its first checkpoint, and most tests never do.
    settings.NOVAMIND_AUDIT_CHECKPOINT_DIR = str(tmp_path_factory.getbasetemp() / f"audit-checkpoints-{next(_numbers)}")
