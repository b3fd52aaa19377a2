"""choice_or: a stored choice read back as its enum, or the default when it is empty or unknown."""

from novamind.domain import Choice, choice_or


class Colour(Choice):
    RED = "red", "Red"


def test_a_known_value_is_its_member():
    assert choice_or(Colour, "red") is Colour.RED


def test_empty_or_unknown_values_give_the_default():
    assert choice_or(Colour, "") is None
    assert choice_or(Colour, None, Colour.RED) is Colour.RED
    assert choice_or(Colour, "blue", "unknown") == "unknown"
