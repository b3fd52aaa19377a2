import uuid

from novamind.domain import parse_id


def test_a_uuid_or_its_text_names_that_identity():
    identity = uuid.uuid4()
    assert parse_id(identity) is identity
    assert parse_id(str(identity)) == identity


def test_anything_else_names_no_identity():
    for garbage in (None, "", "1", "not-a-uuid", "\x00", 12, object()):
        assert parse_id(garbage) is None
