"""Every kubernetes.core task of a role, playbook or molecule scenario that names a kind outside the core group names its
api_version too.

kubernetes.core's api_version defaults to "v1"; for kind=Deployment its client then looks in the core group first
(plugins/module_utils/k8s/client.py ``resource()``: kind, name, singular_name, then short_names), and every miss
makes kubernetes' LazyDiscoverer drop its cache and fetch /version, /apis and /api/v1 again
(kubernetes/dynamic/discovery.py ``LazyDiscoverer.search`` -> ``invalidate_cache``): four rounds of discovery
before the apps/v1 lookup that finds it, on a real cluster as on the sandbox (measured on the sandbox: 0.8 s of
wall time more per task).
"""
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
MODULES = ('kubernetes.core.k8s_info', 'kubernetes.core.k8s', 'kubernetes.core.k8s_scale')
# kinds the core group ("v1") serves: found by the first lookup
CORE_KINDS = {'Pod', 'Secret', 'ConfigMap', 'Service', 'Event', 'Node', 'Namespace', 'Endpoints',
              'PersistentVolumeClaim', 'ServiceAccount'}
TASK_FILES = (sorted(REPO.glob('roles/*/tasks/*.yml')) + sorted(REPO.glob('playbooks/*.yml'))
              + sorted(REPO.glob('extensions/molecule/*/*.yml')))


def _tasks(items):
    for item in items or []:
        if not isinstance(item, dict):
            continue
        for key in ('block', 'rescue', 'always', 'tasks', 'pre_tasks', 'post_tasks', 'handlers'):
            yield from _tasks(item.get(key))
        yield item


def missing_api_version(path, root=REPO):
    found = []
    for task in _tasks(yaml.safe_load(path.read_text())):
        for module in MODULES:
            args = task.get(module)
            if not isinstance(args, dict) or 'api_version' in args or 'definition' in args:
                continue
            kind = str(args.get('kind', ''))
            if kind and '{{' not in kind and kind not in CORE_KINDS:
                found.append('%s: %r (kind %s)' % (path.relative_to(root), task.get('name'), kind))
    return found


@pytest.mark.parametrize('path', TASK_FILES, ids=[str(p.relative_to(REPO)) for p in TASK_FILES])
def test_tasks_name_the_api_version_of_a_non_core_kind(path):
    assert not missing_api_version(path)


def test_the_check_sees_a_deployment_without_api_version(tmp_path):
    tasks = tmp_path / 'tasks.yml'
    tasks.write_text(yaml.safe_dump([{'name': 'Read it', 'kubernetes.core.k8s_info': {'kind': 'Deployment'}},
                                     {'name': 'Pods', 'kubernetes.core.k8s_info': {'kind': 'Pod'}}]))
    assert [line.split(': ', 1)[1] for line in missing_api_version(tasks, root=tmp_path)] == ["'Read it' (kind Deployment)"]
