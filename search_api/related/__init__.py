"""Related posts: the selection policy over precomputed neighbours (policy.py), why-related captions (explain.py),
and the service that answers for an indexed article or an unsaved draft (posts.py)."""
