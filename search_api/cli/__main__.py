"""`python -m search_api.cli`: the `sift` command."""

from search_api.cli import main

main()
