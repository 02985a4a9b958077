"""Articles in, a published index version out.

Reading (`sources/`: files, HTML pages, feeds, CMS APIs; `cleaning`: page boilerplate), the article record
(`article`), passages (`chunking`), the store that keeps articles, passages and cached vectors between runs (`store`),
and publishing an immutable version folder that search reads (`publish`, with `vectors/`, `keyword`, `terms`,
`geography` and its names in other languages `place_names`, `deadlines`, `duplicates`, `relatedness`, `late`,
`passage_tokens`). `pipeline` wires them: `index_sources`, `sync_source`, `apply_changes`, `refresh`. Depends on
`models`, never on `search_api`.
"""
