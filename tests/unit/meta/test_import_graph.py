"""The house rules of plugins/, checked on the import graph (built with ast, nothing imported):

- no import loop anywhere in plugins/;
- no function-level import of the collection's own code (it would hide a loop);
- module_utils is one package per system; a system imports only itself and common/, and common/ imports
  no system;
- plugin_utils/ (controller side) is never imported by module_utils/ or modules/ (they run on targets).
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PLUGINS = REPO / 'plugins'
PREFIX = 'ansible_collections.halobuzz.ops.'
SYSTEMS = {'k8s', 'mongodb', 'redis', 'vault', 'aws', 'prometheus'}


def module_name(path):
    return PREFIX + '.'.join(path.relative_to(REPO).with_suffix('').parts)


def collection_imports(tree):
    """(imported module, at top level?) for every import of this collection's code."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def top_level(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
        return True

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            for alias in node.names:
                # `from pkg import module` names a module when such a file exists
                candidate = node.module + '.' + alias.name
                yield (candidate if candidate in GRAPH_NODES else node.module), top_level(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PREFIX):
                    yield alias.name, top_level(node)


FILES = sorted(p for p in PLUGINS.rglob('*.py'))
GRAPH_NODES = {module_name(p) for p in FILES}
GRAPH = {}
FUNCTION_LEVEL = []
for _path in FILES:
    _name = module_name(_path)
    GRAPH[_name] = set()
    for _target, _top in collection_imports(ast.parse(_path.read_text(), str(_path))):
        GRAPH[_name].add(_target)
        if not _top:
            FUNCTION_LEVEL.append((_name, _target))


def find_cycle(graph):
    """One cycle as a list of module names, or None (iterative DFS, white/grey/black)."""
    state = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child) and child in graph:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_find_cycle_finds_one():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None


def test_plugins_have_no_import_loop():
    assert find_cycle(GRAPH) is None


def test_no_function_level_import_of_our_own_code():
    assert FUNCTION_LEVEL == []


def _part(name, index):
    parts = name[len(PREFIX):].split('.')
    return parts[index] if len(parts) > index else None


def test_module_utils_is_one_package_per_system():
    entries = {p.name for p in (PLUGINS / 'module_utils').iterdir() if p.name != '__pycache__'}
    assert entries == SYSTEMS | {'common'}
    for package in entries:
        assert ((PLUGINS / 'module_utils' / package / '__init__.py').read_text()) == ''


@pytest.mark.parametrize('name', sorted(n for n in GRAPH if _part(n, 1) == 'module_utils'))
def test_a_system_imports_only_itself_and_common(name):
    system = _part(name, 2)
    allowed = {system, 'common'} if system != 'common' else {'common'}
    for target in GRAPH[name]:
        assert _part(target, 1) == 'module_utils', '%s imports %s' % (name, target)
        assert _part(target, 2) in allowed, '%s imports %s' % (name, target)


@pytest.mark.parametrize('name', sorted(n for n in GRAPH if _part(n, 1) == 'modules'))
def test_a_module_uses_one_system(name):
    systems = {_part(t, 2) for t in GRAPH[name] if _part(t, 1) == 'module_utils'} - {'common'}
    assert len(systems) == 1, '%s uses %s' % (name, systems)
    assert all(_part(t, 1) == 'module_utils' for t in GRAPH[name])
