from collections import Counter

import numpy as np
import pytest

from search_api.query.suggest import Suggester

# four articles: 0 and 1 about child trafficking, 2 about traffic jams, 3 about UNICEF in Bangladesh
ROWS = {
    "child": [0, 1], "traffick": [0, 1, 3], "traffic": [2], "jam": [2], "unicef": [3], "bangladesh": [3],
    "bangladeshi": [3], "tradit": [1],
}
SPELLING = {
    "child": Counter(child=2), "traffick": Counter(trafficking=2, Trafficked=1, trafficked=1),
    "traffic": Counter(traffic=1),
    "jam": Counter(jams=1), "unicef": Counter(UNICEF=1), "bangladesh": Counter(Bangladesh=1),
    "bangladeshi": Counter(Bangladeshi=1), "tradit": Counter(traditional=1),
}


@pytest.fixture
def suggester():
    return Suggester(
        lambda: ROWS.keys(), lambda stem: len(ROWS.get(stem, ())), lambda stem: SPELLING.get(stem, Counter()),
        lambda stem: np.array(ROWS.get(stem, []), dtype=np.int64), articles=4,
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("tra", ["trafficking", "trafficked", "traffic", "traditional"]),  # most articles, then the usual spelling
        ("child tra", ["child trafficking", "child trafficked", "child traditional"]),  # only what goes with "child"
        ("jams tra", ["jams traffic"]),
        ("Tra", ["Trafficking", "Trafficked", "Traffic", "Traditional"]),  # capitalised as the reader began
        ("ban", ["Bangladesh", "Bangladeshi"]),  # names as the articles write them
        ("uni", ["UNICEF"]),
        ("trafficki", ["trafficking"]),  # the stem is shorter than what was typed
        ("child", []),  # a whole word: nothing longer starts with it
        ("t", []),  # too short
        ("child ", []),  # a finished word
        ("jams child tra", []),  # no article holds all three
        ("zzz", []),
        ("tra2", []),
    ],
)
def test_completions(suggester, typed, expected):
    assert suggester.complete(typed) == expected


def test_k_limits_the_list(suggester):
    assert suggester.complete("tra", k=2) == ["trafficking", "trafficked"]


def test_common_stems_sharing_the_first_letters_do_not_crowd_out_the_completion():
    rows = {f"tr{chr(97 + i)}{chr(97 + j)}": list(range(10)) for i in range(26) for j in range(26)}  # 676 stems
    rows["traffick"] = [0]  # in one article of ten, far fewer than every "tr…" stem above
    spelling = {stem: Counter({stem: 1}) for stem in rows} | {"traffick": Counter(trafficking=1)}
    suggester = Suggester(
        lambda: rows.keys(), lambda stem: len(rows.get(stem, ())), lambda stem: spelling.get(stem, Counter()),
        lambda stem: np.array(rows.get(stem, []), dtype=np.int64), articles=10,
    )
    assert suggester.complete("traf") == ["trafficking"]


def test_a_stem_that_changed_the_last_letter_still_completes():
    # "studying" and "studies" stem to "studi": neither a prefix of "study" nor longer than it
    suggester = Suggester(
        lambda: ["studi", "stun"], lambda stem: 2, lambda stem: Counter(studying=1, studies=1, study=1),
        lambda stem: np.array([0, 1]), articles=2,
    )
    assert suggester.complete("study") == ["studying"]
    assert suggester.complete("stud") == ["study", "studies", "studying"]  # the shorter first on a tie
