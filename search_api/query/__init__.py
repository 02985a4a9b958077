"""Query understanding: a typed query becomes a QueryPlan (plan.py) - the words to rank, quoted phrases, excluded
words, places, a time span, "latest" and open-call intents, filters and a spelling correction (syntax.py, spelling.py,
synonyms.py); and completions for a search box (suggest.py)."""
