"""Serving a published index: search, related posts, the HTTP API, the widget, evaluation and the `sift` CLI.

`engine.Engine` loads one version (its articles as arrays in `catalogue`) and wires the search stages: `query/`
(a typed query → a QueryPlan), `ranking/` (filter masks, the two legs, fusion, re-scoring, the weak-match floor,
near-duplicate collapse, ordering) and `presentation/` (hits, snippets, facets); `related/` answers related posts
beside search. `http/` is the FastAPI service and the widget, `live` swaps versions and publishes writes while it
serves, `cli/` is `sift`, `evaluation/` scores it on judged collections, `settings` reads SIFT_* settings and
`schemas` holds the request and response models. Depends on `indexer` and `models`.
"""
