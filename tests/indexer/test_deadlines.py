"""Deadlines read from grant calls' text (indexer.deadlines)."""

from datetime import date, datetime, timezone

import pytest

from indexer.deadlines import MAX_DEADLINES, find_deadlines

PUBLISHED = date(2026, 3, 2)


@pytest.mark.parametrize("sentence, expected", [
    ("The deadline for applications is 15 September 2026.", date(2026, 9, 15)),
    ("Concept notes must be submitted through the online portal by 15 March 2026.", date(2026, 3, 15)),
    ("Applications can be submitted in Spanish, in writing, by video or by voice recording, until 31 July 2026.",
     date(2026, 7, 31)),
    ("Applications close on 30 November 2026.", date(2026, 11, 30)),
    ("The closing date for applications is 28 February 2027.", date(2027, 2, 28)),
    ("Proposals are due no later than May 15, 2026, at 17:00 GMT.", date(2026, 5, 15)),
    ("Apply by Friday, 3 April 2026 through the fund's website.", date(2026, 4, 3)),
    ("Deadline: 2026-06-30. Grants of up to $50,000.", date(2026, 6, 30)),
    ("Nominations must reach the secretariat on or before the 1st of June 2026.", date(2026, 6, 1)),
    ("The call closes on 12 May.", date(2026, 5, 12)),  # no year: the next 12 May after publication
    ("Proposals must be submitted by 10 January.", date(2027, 1, 10)),  # already past this year: next year's
    ("Submit your application by 5 pm on 20 November 2026.", date(2026, 11, 20)),  # a time of day first
    ("Proposals must be submitted by 17:00 CET on 15 December 2026.", date(2026, 12, 15)),
    ("Applications are accepted until 12:00 noon (GMT), 30 November 2026.", date(2026, 11, 30)),
    ("Applications open on 1 April and close on 15 May 2026.", date(2026, 5, 15)),  # the opening date is not it
    ("The deadline for applications is 15/05/2026.", date(2026, 5, 15)),  # day first: 15 is no month
    ("Applications must be sent by 05/15/2026.", date(2026, 5, 15)),  # month first
    ("Deadline for proposals: 31.07.2026", date(2026, 7, 31)),
    ("Applications are due 15 May 2026.", date(2026, 5, 15)),
    ("Applications will be accepted through May 15, 2026.", date(2026, 5, 15)),
    ("The call will remain open until 15 May 2026.", date(2026, 5, 15)),
    ("Submissions accepted until 11:59 p.m. EST on May 15, 2026.", date(2026, 5, 15)),  # "p.m. EST" ends no sentence
    ("The call closes at midnight on 15 May 2026.", date(2026, 5, 15)),
    ("Apply before the end of April 2026.", date(2026, 4, 30)),  # a month's end: its last day
    ("Applications must be submitted by the end of February.", date(2027, 2, 28)),
    ("The deadline for proposals is the end of February 2028.", date(2028, 2, 29)),
])
def test_a_deadline_sentence_names_its_date(sentence, expected):
    body = "The Rural Futures Fund invites proposals from community groups. " + sentence
    assert find_deadlines("Grants for Rural Schools", body, PUBLISHED) == (expected,)


@pytest.mark.parametrize("body", [
    "The fund was launched on 15 May 2026 and will run until 2030.",  # a date, but no deadline named
    "The government set a deadline of 30 June 2026 for militias to disarm.",  # not something applied for
    "Voters need to register by 11 March 2026 to take part.",  # a deadline, not a call's
    "The first round closed on 12 January 2025, with 400 applications.",  # an earlier round's, long before
    "Applications must be submitted by 15 may 2026.",  # "may" in lowercase is not read as the month
    "Applications will be accepted from March 2026.",  # a month without a day
    "The ceasefire was extended and it ends on 30 June 2026.",  # something closing, but not a call
    "Applications for the programme, which ends on 30 June 2027, are welcome.",  # the programme's end
    "Applications are reviewed monthly and the programme ends on 30 June 2027.",  # another subject closing
    "The deadline for applications is 03/04/2026.",  # 3 April or March 4: not read
    "Version 1.2.2026 of the application form was published.",  # not a date
    "Applications rose due to the floods on 3 April 2026.",  # "due to", not due on
    "Applications submitted through the portal on 3 April 2026 were lost.",
    "The call was made by the minister on 3 April 2026.",
])
def test_dates_that_are_not_this_calls_deadline(body):
    assert find_deadlines("Floods Displace Thousands in Sindh", body, PUBLISHED) == ()


def test_a_title_deadline_counts_when_the_article_is_a_call():
    title = "Small Grants for Youth-Led WASH Projects in Zambia — Deadline 30 June 2026"
    assert find_deadlines(title, "Youth groups can apply for small grants.", PUBLISHED) == (date(2026, 6, 30),)
    assert find_deadlines("Water Grants: Apply Now, Closes 15 May 2026", "NGOs may apply.", PUBLISHED) == (date(2026, 5, 15),)
    # a deadline word with no call in sight: a news headline
    assert find_deadlines("Ceasefire Deadline 30 June 2026 Passes Quietly", "Talks went on.", PUBLISHED) == ()
    assert find_deadlines("Museum Show Closes 15 May 2026", "The gallery said it was popular.", PUBLISHED) == ()
    # a deadline sentence that names nothing applied for, under a call's title
    body = "Projects may include rainwater storage. The closing date for concepts is 15 November 2026."
    assert find_deadlines("Pacific Facility Offers Grants to Community Groups", body, PUBLISHED) == (date(2026, 11, 15),)


def test_several_deadlines_earliest_first_and_at_most_four():
    body = ("The first deadline for concept notes is 31 May 2026. Full proposals must be submitted by 30 September "
            "2026. The deadline for proposals is 31 May 2026.")
    assert find_deadlines("Irrigation Fund Call", body, PUBLISHED) == (date(2026, 5, 31), date(2026, 9, 30))
    many = " ".join(f"Applications for round {i} must be submitted by {i} June 2026." for i in range(1, 9))
    assert find_deadlines("Grant rounds", many, PUBLISHED) == tuple(date(2026, 6, i) for i in range(1, MAX_DEADLINES + 1))


def test_publication_date_bounds_and_undated_articles():
    body = "Applications must be submitted by 30 June."
    assert find_deadlines("Grants", body, None) == ()  # no year and no publication date: unknown
    assert find_deadlines("Grants", body, datetime(2026, 7, 1, 9, tzinfo=timezone.utc)) == (date(2027, 6, 30),)
    far = "Applications must be submitted by 30 June 2031."
    assert find_deadlines("Grants", far, PUBLISHED) == ()  # years after publication: not this call's
    assert find_deadlines("Grants", far, None) == (date(2031, 6, 30),)  # undated: any full date counts
    assert find_deadlines("Grants", "Applications must be submitted by 31 June 2026.", PUBLISHED) == ()  # no such day


@pytest.mark.parametrize("words", [
    "The deadline for submission of full proposals is", "Deadline for applications:", "Closing date -",
    "The application deadline has been extended to", "The deadline is Friday,", "Proposals are due before the deadline of",
])
def test_what_may_link_a_deadline_word_to_its_date(words):
    assert find_deadlines("Grants for Schools", f"{words} 30 April 2026.", PUBLISHED) == (date(2026, 4, 30),)


def test_a_date_in_another_clause_is_not_the_deadline():
    body = "The deadline is set by the board; the fund was launched on 15 May 2026 in Lusaka."
    assert find_deadlines("Grants", body, PUBLISHED) == ()
    # rather nothing than the announcement's date
    body = "The deadline, first announced on 2 March 2026, falls in the rainy season."
    assert find_deadlines("Grants", body, PUBLISHED) == ()


def test_a_store_written_before_deadlines_gains_the_column_and_keeps_its_articles(tmp_path):
    import sqlite3

    from indexer.article import Article
    from indexer.chunking import chunk_article
    from indexer.store import Store

    path = tmp_path / "store.sqlite"
    with sqlite3.connect(path) as old:  # the articles table as sessions before this one wrote it
        old.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE articles (id TEXT PRIMARY KEY, url TEXT, title TEXT NOT NULL, body TEXT NOT NULL,
                published_at TEXT, categories TEXT NOT NULL DEFAULT '[]', tags TEXT NOT NULL DEFAULT '[]',
                countries TEXT NOT NULL DEFAULT '[]', author TEXT, language TEXT, image_url TEXT,
                content_hash TEXT NOT NULL, source TEXT, updated_at TEXT NOT NULL);
            INSERT INTO articles (id, title, body, content_hash, updated_at) VALUES ('old', 'Old', 'Text.', 'x', 'now');
        """)
    with Store(path) as store:
        assert [(a.id, a.deadline) for a in store.iter_articles()] == [("old", None)]
        call = Article(id="call", title="Grants", body="Apply.", deadline="2026-05-15")
        store.upsert_many([(call, chunk_article(call), "test")])
        assert {a.id: a.deadline for a in store.iter_articles()} == {"old": None, "call": date(2026, 5, 15)}
