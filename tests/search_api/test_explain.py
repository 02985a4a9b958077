"""Captions saying why two articles are related: the shared places and distinctive terms, in at most 120 characters."""

import pytest

import json

from search_api.related.explain import NOTHING_SHARED, caption, category_caption, shared_terms, term_profile


def test_profile_keeps_words_as_written_and_drops_noise():
    profile = term_profile("Farming in Ghana. The farming families farm cocoa, up to 2025, with UN help.")
    assert profile.surface["farm"] == "farming"  # the spelling the article uses most, lower-case over "Farming"
    assert profile.surface["ghana"] == "Ghana"
    assert profile.surface["un"] == "UN"  # a short acronym counts; "up" and numbers do not
    assert not {"up", "2025", "the", "in"} & profile.weights.keys()
    assert profile.weights["farm"] > profile.weights["cocoa"]  # three mentions weigh more than one, saturating


def test_shared_terms_rank_distinctive_words_and_skip_everyday_ones():
    a = term_profile("Cocoa farms in Ghana said child labour on cocoa farms is falling, officials said.")
    b = term_profile("Child labour on cocoa plantations: inspectors said farms hide children.")
    df = {"cocoa": 3, "farm": 20, "child": 40, "labour": 8, "said": 900}
    terms = shared_terms(a, b, lambda stems: [df.get(s, 1) for s in stems], documents=1000)
    assert terms == ["cocoa", "farms", "labour", "child"]  # "farms" twice in a outweighs a rarer "labour" once
    assert "said" not in shared_terms(a, b, lambda stems: [900] * len(stems), documents=1000)


def test_counting_words_are_never_reasons():
    a = term_profile("Six villages lost any harvest; debt rose. Several million farmers owe twice as much.")
    b = term_profile("Six districts report any losses and debt; several million households owe twice more.")
    terms = shared_terms(a, b, lambda stems: [2] * len(stems), documents=1000, most=8)
    assert terms == ["debt", "owe"]  # not six, any, several, million, twice


def test_function_words_are_never_reasons_but_the_stop_lists_content_words_are():
    a = term_profile("Whether the fire would spread among homes, nothing said. Interest on loans doubled; wells ran dry.")
    b = term_profile("Nobody knew whether fire would reach homes among the hills; nothing left. Interest rose, wells failed.")
    terms = shared_terms(a, b, lambda stems: [2] * len(stems), documents=1000, most=8)
    assert not {"whether", "would", "among", "nothing"} & {t.lower() for t in terms}
    assert {"fire", "interest", "wells", "homes"} <= {t.lower() for t in terms}  # scikit-learn's list holds the first three
    # acronyms that spell a function word are names: the WHO, the US (an article writes them so more than not)
    a = term_profile("The WHO and the US sent cholera kits to Yemen. WHO staff met doctors who had asked for them.")
    b = term_profile("Cholera: WHO and US teams arrive; WHO says those who fled return.")
    assert {"WHO", "US", "cholera"} <= set(shared_terms(a, b, lambda stems: [2] * len(stems), documents=1000, most=8))


def test_category_caption_most_specific_first_as_given():
    assert category_caption(["Child Labour", "Funding Opportunities"]) == "Both in Child Labour and Funding Opportunities"
    assert category_caption(["Health"]) == "Both in Health"
    assert category_caption([]) is None
    assert category_caption(["x" * 200]) is None
    assert len(category_caption([f"Category {i}" for i in range(30)])) <= 120


def test_related_items_sharing_no_term_are_explained_by_their_shared_categories(tmp_path, embedder):
    from indexer.pipeline import index_sources
    from search_api.engine import Engine
    from search_api.related.policy import RelatedRules

    records = [  # one-line messages: the two flood reports share no word, only their meaning and two categories
        {"id": "m1", "title": "Rain swamps villages", "body": "Rivers burst their banks overnight.", "categories": ["Weather", "Floods"]},
        {"id": "m2", "title": "Monsoon deluge inundates hamlets", "body": "Torrential downpour submerged houses.", "categories": ["Floods", "Weather", "Asia"]},
        {"id": "m3", "title": "Schools reopen after holidays", "body": "Pupils returned to classrooms.", "categories": ["Education", "Weather"]},
        {"id": "m4", "title": "Weather office warns of storms", "body": "Storms and gales are expected.", "categories": ["Weather"]},
    ]
    source = tmp_path / "m.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index_sources([source], tmp_path / "idx", embedder, progress=False)
    engine = Engine.open(tmp_path / "idx", embedder, related_rules=RelatedRules(min_similarity=-1.0))
    reasons = {item.id: item.reason for item in engine.related("m1", k=3).items}
    assert reasons["m2"] == "Both in Floods and Weather"  # the category fewer articles hold first
    assert reasons["m3"] == reasons["m4"] == "Both in Weather"
    draft = {item.id: item.reason for item in engine.related_to_text("Deluge", "Downpour submerged hamlets.", k=3).items}
    assert draft["m1"] == NOTHING_SHARED  # a draft is filed nowhere yet


def test_passing_words_give_way_to_lead_terms_and_repeated_ones():
    filler = " ".join(["Officials reviewed the budget and planned further steps for the coming season."] * 8)
    a = term_profile(f"Mangrove restoration in Indonesia. {filler} Donors were invited to the launch.")
    b = term_profile(f"Coastal mangrove planting funded. {filler} Journalists were invited to visit.")
    df = {"invit": 2, "mangrov": 5}
    terms = shared_terms(a, b, lambda stems: [df.get(s, 400) for s in stems], documents=1000)
    # "invited" is rarer, but each article says it once in passing; "mangrove" is in both leads
    assert [t.lower() for t in terms][:2] == ["mangrove", "invited"]


@pytest.mark.parametrize(
    ("places", "terms", "expected"),
    [
        (["Ghana"], ["cocoa", "harvest"], "Both mention Ghana, cocoa and harvest"),
        ([], ["cocoa"], "Both mention cocoa"),
        (["Ghana"], ["ghana", "cocoa"], "Both mention Ghana and cocoa"),  # a place named again as a term counts once
        ([], [], NOTHING_SHARED),
        # a word of a listed place is not a term again ("Burkina" after "Burkina Faso"), and the next term shows
        (["Mali", "Burkina Faso", "Côte d'Ivoire"], ["Burkina", "Côte", "Faso", "cocoa", "buyers"],
         "Both mention Mali, Burkina Faso, Côte d'Ivoire, cocoa and buyers"),
        (["Ghana", "Kenya", "GHANA"], ["a", "b", "c", "d", "e"], "Both mention Ghana, Kenya, a, b, c and d"),  # 4 terms
    ],
)
def test_caption(places, terms, expected):
    assert caption(places, terms) == expected


def test_caption_fits_a_widget():
    long = ["internationalisation", "decentralisation", "intergovernmental", "reconstruction", "accountability",
            "humanitarian"]
    text = caption(["Democratic Republic of the Congo"], long)
    assert len(text) <= 120 and text.startswith("Both mention Democratic Republic of the Congo, ")
    assert caption(["x" * 200], []) == NOTHING_SHARED


def test_terms_used_around_the_article_outrank_terms_used_everywhere():
    from search_api.related.explain import Neighbourhood

    a = term_profile("Seaweed harvests fell as the water grew warmer and higher tides came in.")
    b = term_profile("Seaweed farmers moved their lines as higher water and warmer seas hit harvests.")
    df = {"seawe": 30, "higher": 30, "harvest": 30, "warmer": 30, "water": 30}
    frequency = lambda stems: [df.get(s, 30) for s in stems]  # noqa: E731 - every term as common on the site
    plain = shared_terms(a, b, frequency, documents=1000, most=8)
    # the article's 20 nearest neighbours: all 20 say "seaweed", 2 say "higher" (its site-wide share: 3%)
    nearby = Neighbourhood(lambda stem: {"seawe": 20, "harvest": 12}.get(stem, 2), 20)
    ranked = shared_terms(a, b, frequency, documents=1000, most=8, nearby=nearby)
    assert sorted(ranked) == sorted(plain) and ranked != plain  # the same terms, in another order
    assert ranked[:2] == ["Seaweed", "harvests"] and ranked.index("higher") > 1


def test_count_among_reads_the_posting_lists():
    from indexer.keyword import KeywordIndex

    import numpy as np

    index = KeywordIndex.build(["cocoa farms in Ghana", "cocoa prices", "gold mines", "cocoa and gold", "tea"])

    assert index.count_among("cocoa", np.array([0, 1, 2])) == 2
    assert index.count_among("cocoa", np.array([2, 4])) == 0
    assert index.count_among("gold", np.array([0, 1, 2, 3, 4])) == 2
    assert index.count_among("silver", np.array([0, 1])) == 0 and index.count_among("gold", np.array([], dtype=int)) == 0


def test_a_capital_from_a_sentence_start_is_dropped_when_the_other_article_writes_lower_case():
    a = term_profile("Boys as young as ten dig in the Geita pits. UNICEF and Tanzania's ministry responded.")
    b = term_profile("Traffickers recruit boys for the pits; UNICEF says Tanzania must act.")
    terms = shared_terms(a, b, lambda stems: [2] * len(stems), documents=1000, most=8)
    assert "boys" in terms and "Boys" not in terms and "UNICEF" in terms and "Tanzania" in terms

