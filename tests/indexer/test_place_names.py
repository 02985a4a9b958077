import pytest

from indexer.place_names import cldr_names, language_code


@pytest.mark.parametrize(
    ("given", "code"),
    [("fr", "fr"), ("FR", "fr"), ("pt-BR", "pt"), ("sw_KE", "sw"), ("en", None), ("zh-Hans", None), ("tr", None),
     ("", None), (None, None)],
)
def test_language_code(given, code):
    assert language_code(given) == code


def test_cldr_names_give_the_parts_that_are_other_names():
    french = {(name, code): whole for name, code, whole in cldr_names("fr")}
    assert french[("Myanmar (Birmanie)", "MM")] is True
    assert french[("Birmanie", "MM")] is False  # English "Myanmar (Burma)" has two parts as well
    assert ("partie néerlandaise", "SX") not in french
    swahili = {(name, code) for name, code, _ in cldr_names("sw")}
    assert ("Visiwa vya Virgin", "VG") in swahili
    assert ("Uingereza", "VG") not in swahili  # "Visiwa vya Virgin, Uingereza": whose islands, not their name


def test_cldr_names_read_every_locale_of_a_language():
    kenya = {name for name, code, _ in cldr_names("pt") if code == "KE"}
    assert kenya == {"Quênia", "Quénia"}  # Brazil's and Portugal's
