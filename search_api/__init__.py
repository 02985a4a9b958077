"""Serving a published index: search, related posts, the HTTP API, the widget, evaluation and the `sift` CLI.

`engine.Engine` loads a version and answers searches and related-post lists (query understanding in
`query_syntax`, `spelling`, `synonyms`, `suggest`; ranking in `fusion`, `related`, `explain`, `snippets`); `app`
is the FastAPI service (with `widget`, `editorial_api`, `writes`, `guards`, `logs`, `metrics`, `live`);
`evaluation` and `related_eval` score it on judged collections; `cli` is `sift`; `settings` reads SIFT_* settings.
Depends on `indexer` and `models`.
"""
