"""Ranking: the stages between a QueryPlan and an ordered list of articles - filter masks (filters.py), candidate
retrieval from the dense and keyword legs (legs.py), fusion (fusion.py), re-scoring (rescoring.py), the ranked
candidates (ranker.py), the weak-match floor (floor.py), near-duplicate collapse (collapse.py) and ordering by
relevance, date or deadline (ordering.py)."""
