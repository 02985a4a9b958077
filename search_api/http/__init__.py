"""The HTTP service: the FastAPI app and its routes (search, related, articles, writes, editorial, widget), request
guards, logs, metrics, and the search page and widget files it serves (static/)."""
