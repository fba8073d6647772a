"""The package's layout holds: no import circle, every import points down the layers, one
package decides the fast paths and threads, and each layer module imports only its own
kernels. Read from the source files' import statements (functions' lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqnets"

# Lower layers never import upper ones: cli -> chapter -> plotting -> forecast -> training ->
# models, io -> layers -> data -> errors, checks. Modules of one package may import each other.
LEVELS = {
    "errors": 0, "checks": 0,
    "data": 1,
    "layers": 2,
    "models": 3, "io": 3,
    "training": 4,
    "forecast": 5, "classify": 5, "music": 5,
    "plotting": 6,
    "chapter": 7,
    "cli": 8,
}
# What each layer module may import from layers/ops: dispatch, and its own kernels only.
OWN_KERNELS = {
    "seqnets.layers.recurrent": {"dispatch", "recurrent"},
    "seqnets.layers.conv": {"dispatch", "conv"},
    "seqnets.layers.wavenet": {"dispatch", "numba_generation"},
    "seqnets.layers.initializers": {"dispatch"},  # one thread for the orthogonal QR
}
# What decides a fast path or a thread count; it belongs in layers/ops only.
DECISIONS = ("HAVE_NUMBA", "set_num_threads", "import numba", "from numba", "native.library()")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The seqnets modules ``path`` imports (``from pkg import sub`` names the submodule)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("seqnets")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("seqnets"):
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    return {m for m in out if m in known and m != me}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def level(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return LEVELS[top]


def is_face(module: str) -> bool:
    """A package's ``__init__``: it re-exports its package and is imported for names only."""
    return (SRC.parent / module.replace(".", "/") / "__init__.py").is_file()


def test_every_top_level_module_has_a_level_and_there_are_at_most_six():
    tops = {p.stem for p in SRC.glob("*.py")} - {"__init__"}
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert len(tops) <= 6, tops
    assert tops | packages <= set(LEVELS), (tops | packages) - set(LEVELS)


def test_no_import_circle():
    edges = {m: {t for t in ts if not is_face(t)} for m, ts in graph().items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])


def test_every_import_points_down():
    upward = [f"{m} -> {t}" for m, ts in graph().items() if m != "seqnets"
              for t in ts if t != "seqnets" and level(t) > level(m)]
    assert not upward, upward


def test_no_module_outgrows_one_job():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in modules().items()}
    assert max(sizes.values()) <= 460, {n: s for n, s in sizes.items() if s > 460}


@pytest.mark.parametrize("layer_module", sorted(m for m in modules()
                                                if m.startswith("seqnets.layers.")
                                                and not m.startswith("seqnets.layers.ops")))
def test_a_layer_module_imports_only_its_own_kernels(layer_module):
    ops = {m.rsplit(".", 1)[1] for m in graph()[layer_module]
           if m.startswith("seqnets.layers.ops.")}
    assert ops <= OWN_KERNELS.get(layer_module, set()), (layer_module, ops)


def test_the_dispatch_package_imports_no_layer_class():
    for name, targets in graph().items():
        if name.startswith("seqnets.layers.ops"):
            outside = {t for t in targets if t.startswith("seqnets.layers")
                       and not t.startswith("seqnets.layers.ops")}
            assert not outside, (name, outside)


def test_fast_path_and_thread_decisions_live_in_layers_ops():
    found = []
    for name, path in modules().items():
        if name.startswith("seqnets.layers.ops"):
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{name}: {word}" for word in DECISIONS if word in text]
    assert not found, found
