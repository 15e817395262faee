"""Print the import cycles between espwatch's modules (module-level imports, and with --all also the ones
inside functions; imports under `if TYPE_CHECKING:` never count). Exit status 1 when there is a cycle.

    python tools/import_cycles.py [--all]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "monitor"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["espwatch", *parts])


def imports(path: Path, include_local: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom) and (top or include_local):
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                else:
                    base = child.module or ""
                    names = [base] + [f"{base}.{a.name}" for a in child.names]
                out.update(n for n in names if n.startswith("espwatch"))
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inner)

    visit(tree, True)
    return out


def main() -> int:
    include_local = "--all" in sys.argv
    mods = {module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in mods.items():
        deps = set()
        for imp in imports(path, include_local):
            while imp and imp not in mods:
                imp = imp.rpartition(".")[0]
            # a module importing its own package's __init__ is not a cycle
            if imp and imp != name and not name.startswith(imp + "."):
                deps.add(imp)
        graph[name] = deps
    # strongly connected components (Tarjan)
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def strong(v: str) -> None:
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    for comp in sccs:
        print("cycle:", " <-> ".join(comp))
    scope = "all imports" if include_local else "module level"
    print(f"{len(sccs)} cycle(s) among {len(graph)} modules ({scope})")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
