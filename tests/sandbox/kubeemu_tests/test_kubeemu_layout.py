"""The shape of the kubeemu package, read with `ast` (nothing is imported but kubeemu itself, to find it):
its modules import each other at module level only, the import graph has no cycle, and the emulator
never imports the collection it is the test bed for."""

import ast
from pathlib import Path

import pytest

import kubeemu

PACKAGE = "kubeemu"
ROOT = Path(kubeemu.__file__).resolve().parent


def _modules(root, package):
    """{dotted name: (path, is_package)} for every .py file under root."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join([package] + parts)] = (path, is_package)
    return found


def _imports(name, path, is_package):
    """[(module, [names taken from it], line, inside a def/class)] for each import statement of the module;
    relative imports resolved to absolute names."""
    tree = ast.parse(path.read_text(), str(path))
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((a.name, [], child.lineno, nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = ".".join(here[:len(here) - (child.level - 1)] + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                found.append((base, [a.name for a in child.names], child.lineno, nested))
            visit(child, nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    visit(tree, False)
    return found


def _graph(modules):
    """({module: {sibling modules it imports}}, [function-level sibling imports], [(module, line, import)]).

    `from . import errors` imports the module kubeemu.errors; `from .cluster import Cluster` the module
    kubeemu.cluster. A module's own parent packages are initialised before it, whatever it imports, so an
    import of one of them is no edge."""
    edges = {m: set() for m in modules}
    nested, every = [], []
    for name, (path, is_package) in modules.items():
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for base, names, line, inside in _imports(name, path, is_package):
            every.append((name, line, base))
            targets = {base + "." + n if base + "." + n in modules else base for n in names} or {base}
            siblings = {t for t in targets if t in modules} - {name} - parents
            if siblings and inside:
                nested.append("%s:%d imports %s inside a function or class" % (
                    path.relative_to(ROOT.parent), line, ", ".join(sorted(siblings))))
            edges[name] |= siblings
    return edges, nested, every


def find_cycle(edges):
    """One import cycle as a path [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


@pytest.mark.parametrize("edges, cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
])
def test_find_cycle(edges, cycle):
    assert find_cycle(edges) == cycle


def test_the_package_is_found_with_its_controllers():
    modules = _modules(ROOT, PACKAGE)
    for name in ("kubeemu.cluster", "kubeemu.server", "kubeemu.controllers.manager",
                 "kubeemu.controllers.scheduler", "kubeemu.controllers.kubelet", "kubeemu.controllers.deployment"):
        assert name in modules


def test_siblings_are_imported_at_module_level_only():
    _, nested, _ = _graph(_modules(ROOT, PACKAGE))
    assert nested == []


def test_the_import_graph_has_no_cycle():
    edges, _, _ = _graph(_modules(ROOT, PACKAGE))
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_emulator_does_not_import_the_collection():
    _, _, every = _graph(_modules(ROOT, PACKAGE))
    offending = ["%s:%d %s" % (m, line, t) for m, line, t in every
                 if t.split(".")[0] == "ansible_collections"]
    assert offending == []
