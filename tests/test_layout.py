"""The code's shape: imports flow one way (models ← indexer ← search_api; within search_api, the search stages never
reach up into the HTTP service or the CLI), no module imports itself back through another, and every package says
what it holds. Read from the source (ast), so a lazy import inside a function counts too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "indexer", "search_api")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The Sift modules a file imports (a `from package import name` counts the submodule when `name` is one)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in out if name in MODULES}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}

# (importer prefix, imported prefix) pairs that must never occur
FORBIDDEN = [
    ("models", "indexer"), ("models", "search_api"), ("indexer", "search_api"),
    *((stage, outer) for stage in ("search_api.query", "search_api.ranking", "search_api.presentation",
                                   "search_api.related", "search_api.catalogue", "search_api.engine")
      for outer in ("search_api.http", "search_api.cli", "search_api.evaluation", "search_api.live")),
    ("search_api.query", "search_api.ranking"), ("search_api.query", "search_api.presentation"),
    ("search_api.ranking", "search_api.presentation"), ("search_api.ranking", "search_api.related"),
]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN, ids=[f"{a}-x->{b}" for a, b in FORBIDDEN])
def test_imports_flow_one_way(importer, imported):
    wrong = sorted(f"{src} imports {dst}" for src, dsts in GRAPH.items() if _under(src, importer)
                   for dst in dsts if _under(dst, imported))
    assert not wrong, wrong


def test_no_import_cycles_between_modules():
    """Packages' __init__ re-exports aside, no module reaches itself again through the modules it imports."""
    inits = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    graph = {src: {d for d in dsts if d not in inits} for src, dsts in GRAPH.items() if src not in inits}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not cycles, cycles


@pytest.mark.parametrize("package", sorted(n for n, p in MODULES.items() if p.name == "__init__.py"))
def test_every_package_says_what_it_holds(package):
    docstring = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8"))) or ""
    assert len(docstring.split()) >= 8 and "placeholder" not in docstring.casefold(), package
