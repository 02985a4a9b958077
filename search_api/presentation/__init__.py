"""Presentation: ranked articles become what a reader sees - hits with snippets and <mark>ed terms (hits.py,
snippets.py) and facet counts (facets.py)."""
