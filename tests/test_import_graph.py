"""No module of the library imports itself back, through any chain of imports.

The graph is read from the source, not from an interpreter's import order: an edge for every
import a module can run (at its top or inside a function; not under ``if TYPE_CHECKING:``),
and, because importing ``a.b.c`` first runs ``a/__init__.py`` and ``a/b/__init__.py``, an edge
to each package above the imported module that does not contain the importer. So a module of
a package that takes a name from its own package's ``__init__`` (which imports that module
back) is a cycle; one that takes a sibling module through the package
(``from headcast.face import regions``) is not.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

Graph = dict[str, dict[str, int]]  # importer → imported → line of the first such import


def _modules(src: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Every module under ``src/package``: dotted name → (file, whether it is a package)."""
    found = {}
    for path in (src / package).rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
        "TYPE_CHECKING"
    )


def _imported_modules(tree: ast.Module, package: str, modules: set[str]) -> list[tuple[str, int]]:
    """The modules each import statement loads, with its line (relative imports resolved)."""
    loaded: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for rest in child.orelse:
                    visit(rest)
                continue
            if isinstance(child, ast.Import):
                loaded.extend((alias.name, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    above = ".".join(parts[: len(parts) - child.level + 1])
                    base = f"{above}.{base}" if base else above
                for alias in child.names:
                    # `from a import b` loads the module a.b if there is one, else takes b from a.
                    submodule = f"{base}.{alias.name}"
                    loaded.append((submodule if submodule in modules else base, child.lineno))
            visit(child)

    visit(tree)
    return loaded


def import_graph(src: Path, package: str) -> Graph:
    modules = _modules(src, package)
    graph: Graph = {name: {} for name in modules}
    for name, (path, is_package) in modules.items():
        own_package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        for dotted, line in _imported_modules(tree, own_package, set(modules)):
            parts = dotted.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()  # `import a.b` of a name that is no module loads what holds it
            for depth in range(1, len(parts) + 1):
                target = ".".join(parts[:depth])
                # The packages above it run first, save those the importer is already inside.
                above_importer = depth < len(parts) and (
                    name == target or name.startswith(target + ".")
                )
                if target in modules and target != name and not above_importer:
                    graph[name].setdefault(target, line)
    return graph


def import_cycles(graph: Graph) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), first name repeated last."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in graph[node]:
            if after not in index:
                connect(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for group in groups:
        start = min(group)
        # Shortest way back to the start within the group, breadth first.
        came_from: dict[str, str] = {}
        frontier = [start]
        while start not in came_from:
            following = []
            for node in frontier:
                for after in sorted(graph[node]):
                    if after in group and after not in came_from:
                        came_from[after] = node
                        following.append(after)
            frontier = following
        path = [start]
        while len(path) == 1 or path[-1] != start:
            path.append(came_from[path[-1]])
        cycles.append(path[::-1])
    return cycles


def _described(cycle: list[str], graph: Graph) -> str:
    steps = [f"{a} (line {graph[a][b]}) imports {b}" for a, b in itertools.pairwise(cycle)]
    return "\n  ".join(steps)


def test_the_library_has_no_import_cycle():
    graph = import_graph(SRC, "headcast")
    assert len(graph) > 100, "the library's modules were not found"
    cycles = import_cycles(graph)
    assert cycles == [], "import cycles:\n  " + "\n\n  ".join(_described(c, graph) for c in cycles)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_name_taken_from_the_own_package_is_a_cycle(tmp_path):
    _write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/phones/__init__.py": "from lib.phones.track import Track\nfrom lib.phones.align import align\n",
            "lib/phones/track.py": "class Track: ...\n",
            "lib/phones/align.py": "from lib.phones import Track\ndef align(): return Track()\n",
        },
    )
    graph = import_graph(tmp_path, "lib")
    assert import_cycles(graph) == [["lib.phones", "lib.phones.align", "lib.phones"]]


def test_a_module_reached_through_its_package_is_no_cycle(tmp_path):
    _write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/face/__init__.py": "from lib.face.mesh import mesh\n",
            "lib/face/regions.py": "LIPS = 1\n",
            "lib/face/mesh.py": "from lib.face import regions\nfrom . import regions as R\ndef mesh(): return regions.LIPS\n",
        },
    )
    graph = import_graph(tmp_path, "lib")
    assert graph["lib.face.mesh"] == {"lib.face.regions": 1}
    assert import_cycles(graph) == []


def test_a_cycle_through_a_package_init_or_a_function_is_found(tmp_path):
    _write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/motion/__init__.py": "",
            "lib/motion/build.py": "from lib.phones.track import Track\n",
            "lib/phones/__init__.py": "from lib.phones.track import Track\nfrom lib.phones.stream import stream\n",
            "lib/phones/track.py": "class Track: ...\n",
            "lib/phones/stream.py": "def stream():\n    from lib.motion import build\n",
            "lib/render.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lib.video import Writer\n",
            "lib/video.py": "from lib.render import render\n",
        },
    )
    graph = import_graph(tmp_path, "lib")
    assert import_cycles(graph) == [
        ["lib.motion.build", "lib.phones", "lib.phones.stream", "lib.motion.build"]
    ]
