"""The package's import graph has no cycle (read with the standard library's ast, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
PACKAGE = SRC / "kpoc"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """kpoc modules ``path`` imports, at any depth of its code (function-level imports too:
    they hide a cycle, they do not break it; ``if TYPE_CHECKING:`` ones too: a cycle in the
    types is one in the design). ``from . import sibling`` depends on the sibling module, not on
    the package; a name taken from a package's ``__init__`` (``from . import __version__``)
    depends on the package, and that package is only half initialised while it imports us."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            subs = {f"{base}.{a.name}" for a in node.names} & modules
            found |= subs
            if len(subs) < len(node.names):  # some name comes from the package itself
                found.add(base)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module(f) for f in files}
    return {_module(f): _imports(f, modules) for f in files}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_package():
    g = graph()
    assert "kpoc.cli" in g and "kpoc.admin" in g["kpoc.cli.topics"]


def test_a_cycle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_name_from_the_package_is_an_edge_to_it_a_sibling_module_is_not(tmp_path):
    pkg = tmp_path / "kpoc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import x\n__version__ = '1'\n")
    (pkg / "a.py").write_text("from . import b\nfrom . import __version__\nx = 1\n")
    (pkg / "b.py").write_text("")
    modules = {"kpoc", "kpoc.a", "kpoc.b"}
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        assert _imports(pkg / "a.py", modules) == {"kpoc", "kpoc.b"}
        assert cycles({m: _imports(pkg / (m.split(".")[-1] + ".py") if m != "kpoc"
                                   else pkg / "__init__.py", modules) for m in modules}) \
            == [["kpoc", "kpoc.a"]]
    finally:
        SRC = saved


def test_no_import_cycle_in_kpoc():
    assert cycles(graph()) == []
