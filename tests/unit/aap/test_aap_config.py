"""extensions/aap/ (AWX/AAP configuration as code, infra.aap_configuration's shape) is what the argument specs say.

The generated files are compared with what scripts/generate-aap-config writes now (a changed argument spec
without a regeneration fails here), every survey is checked against AWX's own rules (awx_survey_rules, written
from AWX's source), and every survey question is checked against the role argument spec it comes from by a
second, independent reading of the specs (type, required, choices, default, description).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from awx_survey_rules import answer_errors, launch_extra_vars, spec_errors

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / 'scripts' / 'generate-aap-config'
AAP = REPO / 'extensions' / 'aap'
COLLECTION = 'halobuzz.ops.'


def load(name):
    return yaml.safe_load((AAP / name).read_text())


TEMPLATES = load('controller_templates.yml')['controller_templates']
WORKFLOWS = load('controller_workflows.yml')['controller_workflows']
SCHEDULES = load('controller_schedules.yml')['controller_schedules']
CREDENTIAL_TYPES = load('controller_credential_types.yml')['controller_credential_types']
BY_PLAYBOOK = {t['playbook']: t for t in TEMPLATES}
BY_NAME = {t['name']: t for t in TEMPLATES}


def generate(*args, root=None):
    argv = [sys.executable, str(GENERATOR), *args] + (['--root', str(root)] if root else [])
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


# -- the files are what the generator makes of the specs now -----------------------------------------

def test_generated_files_are_current():
    result = generate('--check')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def _copy_tree(tmp_path):
    for part in ('playbooks', 'roles', 'inventories', 'extensions/aap'):
        shutil.copytree(REPO / part, tmp_path / part, symlinks=True)
    return tmp_path


def _edit_spec(root, role, option, **changes):
    path = root / 'roles' / role / 'meta' / 'argument_specs.yml'
    data = yaml.safe_load(path.read_text())
    data['argument_specs']['main']['options'][option].update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize('changes', [{'default': 7}, {'description': 'Another text.'}, {'required': True}],
                         ids=['default', 'description', 'required'])
def test_a_changed_argument_spec_without_regeneration_fails_the_check(tmp_path, changes):
    root = _copy_tree(tmp_path)
    assert generate('--check', root=root).returncode == 0
    _edit_spec(root, 'rollout_rollback', 'healthz_retries', **changes)
    result = generate('--check', root=root)
    assert result.returncode == 1
    assert 'controller_templates.yml' in result.stderr
    assert 'healthz_retries' in result.stdout  # the diff shows the question
    assert generate(root=root).returncode == 0  # regenerating makes it current again
    assert generate('--check', root=root).returncode == 0


def test_a_new_playbook_gets_a_template(tmp_path):
    root = _copy_tree(tmp_path)
    (root / 'playbooks' / 'redis_audit_copy.yml').write_text(
        '---\n- name: Copy\n  hosts: localhost\n  gather_facts: false\n  roles:\n    - role: halobuzz.ops.redis_check\n')
    assert generate(root=root).returncode == 0
    names = [t['name'] for t in yaml.safe_load(
        (root / 'extensions/aap/controller_templates.yml').read_text())['controller_templates']]
    assert 'HaloBuzz: redis_audit_copy' in names


def _synthetic_root(tmp_path, option):
    (tmp_path / 'playbooks').mkdir()
    (tmp_path / 'playbooks' / 'maintenance.yml').write_text(
        '---\n- name: M\n  hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: R\n'
        '      ansible.builtin.import_role:\n        name: halobuzz.ops.demo\n        tasks_from: start\n')
    (tmp_path / 'playbooks' / 'redis_check.yml').write_text('---\n- name: R\n  hosts: localhost\n  roles: [demo]\n')
    (tmp_path / 'roles' / 'demo' / 'meta').mkdir(parents=True)
    spec = {'argument_specs': {'main': {'options': {}}, 'start': {'options': {
        'maintenance_action': {'type': 'str', 'choices': ['start', 'finish'], 'description': 'What.'},
        **option}}}}
    (tmp_path / 'roles' / 'demo' / 'meta' / 'argument_specs.yml').write_text(yaml.safe_dump(spec))
    return tmp_path


def test_a_secret_looking_option_must_say_no_log(tmp_path):
    root = _synthetic_root(tmp_path, {'api_token': {'type': 'str', 'description': 'A token.'}})
    result = generate(root=root)
    assert result.returncode == 2
    assert "'api_token' looks secret" in result.stderr and 'argument_specs.yml (start)' in result.stderr


def test_a_no_log_option_is_a_password_question(tmp_path):
    root = _synthetic_root(tmp_path, {'api_token': {'type': 'str', 'no_log': True, 'required': True,
                                                    'description': 'A token.'}})
    assert generate(root=root).returncode == 0, 'the entry point of tasks_from=start is read'
    template = yaml.safe_load((root / 'extensions/aap/controller_templates.yml').read_text())['controller_templates']
    question = {q['variable']: q for q in template[0]['survey_spec']['spec']}['api_token']
    assert question['type'] == 'password' and question['required'] and 'default' not in question
    assert not spec_errors(template[0]['survey_spec'])


def test_a_missing_entry_point_is_named(tmp_path):
    root = _synthetic_root(tmp_path, {})
    (root / 'roles/demo/meta/argument_specs.yml').write_text('argument_specs:\n  main:\n    options: {}\n')
    result = generate(root=root)
    assert result.returncode == 2 and "no entry point 'start'" in result.stderr


# -- one job template per playbook, each survey valid under AWX's rules ----------------------------

def test_one_template_per_playbook():
    playbooks = sorted('playbooks/' + p.name for p in (REPO / 'playbooks').glob('*.yml'))
    assert sorted(BY_PLAYBOOK) == playbooks
    assert len(BY_NAME) == len(TEMPLATES)


SURVEYED = [t for t in TEMPLATES if t['survey_enabled']] + [w for w in WORKFLOWS if w['survey_enabled']]


@pytest.mark.parametrize('template', SURVEYED, ids=[t['name'] for t in SURVEYED])
def test_survey_is_valid_for_awx(template):
    assert spec_errors(template['survey_spec']) == []
    # a launch with only the defaults (and answers for the required questions) is accepted
    answers = {q['variable']: _answer(q) for q in template['survey_spec']['spec']
               if q['required'] and 'default' not in q}
    launch_extra_vars(template, answers)


def test_templates_without_a_survey_take_launch_variables():
    for template in TEMPLATES:
        assert template['survey_enabled'] == bool(template['survey_spec'])
        assert template['ask_variables_on_launch'] is True


def _answer(question):
    return {'text': 'x', 'textarea': 'x', 'password': 'x', 'integer': 1, 'float': 1.0,
            'multiplechoice': (question.get('choices') or ['x'])[0], 'multiselect': []}[question['type']]


# -- the rules themselves refuse what AWX refuses (else the test above could not fail) -------------

GOOD = {'question_name': 'Q', 'variable': 'to_revision', 'required': False, 'type': 'integer', 'default': 0}
BAD_QUESTIONS = [
    ({'type': 'boolean'}, 'not one of the allowed question types'),
    ({'type': 'float', 'default': 90}, 'expected to be float'),
    ({'default': '3'}, 'expected to be integer'),
    ({'min': 1.5}, 'limit in survey question 0 expected to be integer'),
    ({'required': 'yes'}, "'required' in survey question 0 expected to be bool"),
    ({'variable': 'to revision'}, 'not a valid Ansible variable name'),
    ({'variable': 'awx_job_id'}, 'a name AWX sets itself'),
    ({'type': 'multiplechoice', 'default': 'c', 'choices': ['a', 'b']}, 'Default choice must be answered'),
    ({'type': 'multiplechoice', 'default': ''}, 'must specify choices'),
    ({'type': 'text', 'default': '$encrypted$'}, '$encrypted$ is a reserved keyword'),
]


@pytest.mark.parametrize('change, message', BAD_QUESTIONS, ids=[case[1] for case in BAD_QUESTIONS])
def test_awx_rules_refuse(change, message):
    assert spec_errors({'name': 'n', 'description': '', 'spec': [dict(GOOD)]}) == []
    errors = spec_errors({'name': 'n', 'description': '', 'spec': [dict(GOOD, **change)]})
    assert any(message in error for error in errors), errors


def test_awx_rules_refuse_duplicates_and_empty_specs():
    assert 'duplicated' in ' '.join(spec_errors({'name': 'n', 'description': '', 'spec': [GOOD, GOOD]}))
    assert spec_errors({'name': 'n', 'description': '', 'spec': []}) == ["'spec' doesn't contain any items."]


ANSWERS = [
    ({'type': 'integer'}, '5', 'expected to be an integer'),
    ({'type': 'integer'}, True, 'expected to be an integer'),
    ({'type': 'integer', 'min': 1}, 0, 'too small'),
    ({'type': 'float'}, '0.5', 'numeric type'),
    ({'type': 'text', 'min': 1, 'required': True}, '', 'too small'),
    ({'type': 'text', 'max': 3}, 'abcd', 'too large'),
    ({'type': 'text'}, 5, 'expected to be a string'),
    ({'type': 'multiplechoice', 'choices': ['true', 'false']}, True, 'expected to be one of'),
    ({'type': 'multiselect', 'choices': ['a']}, 'a', 'expected to be a list'),
]


@pytest.mark.parametrize('question, value, message', ANSWERS, ids=[case[2] + '-' + repr(case[1]) for case in ANSWERS])
def test_awx_answer_rules(question, value, message):
    question = dict({'variable': 'v', 'required': False}, **question)
    errors = answer_errors(question, {'v': value})
    assert any(message in error for error in errors), errors


def test_answers_awx_accepts():
    assert answer_errors({'variable': 'v', 'required': False, 'type': 'float'}, {'v': 1}) == []
    assert answer_errors({'variable': 'v', 'required': True, 'type': 'text'}, {'v': ''}) == [], \
        "AWX's required only asks for presence (hence min: 1 on required text questions)"
    assert answer_errors({'variable': 'v', 'required': True, 'type': 'text'}, {}) == ["'v' value missing"]


def test_launch_refuses_unknown_variables_without_prompt():
    template = {'survey_enabled': True, 'ask_variables_on_launch': False,
                'survey_spec': {'spec': [dict(GOOD)]}}
    with pytest.raises(ValueError, match='not allowed on launch'):
        launch_extra_vars(template, {'other': 1})
    assert launch_extra_vars(template, {}) == {'to_revision': 0}


# -- every question agrees with the argument spec it comes from ------------------------------------

def _entry_points(playbook):
    """(role, entry point) from the playbook, read here independently of the generator."""
    found = []
    for play in yaml.safe_load((REPO / playbook).read_text()):
        for role in play.get('roles') or []:
            found.append(((role if isinstance(role, str) else role['role']).replace(COLLECTION, ''), 'main'))
        for task in play.get('tasks') or []:
            for key in ('ansible.builtin.import_role', 'ansible.builtin.include_role'):
                if key in task:
                    found.append((task[key]['name'].replace(COLLECTION, ''), task[key].get('tasks_from', 'main')))
    return found


def _options(playbook):
    options = {}
    for role, entry_point in _entry_points(playbook):
        spec = yaml.safe_load((REPO / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())
        for name, option in (spec['argument_specs'][entry_point].get('options') or {}).items():
            options.setdefault(name, option)
    return options


def _inventory_names():
    names = set()
    for path in (REPO / 'inventories').glob('*/*_vars/**/*.yml'):
        names.update(yaml.safe_load(path.read_text()) or {})
    return names


def _text(description):
    return ' '.join((' '.join(description) if isinstance(description, list) else str(description or '')).split())


EXPECTED_TYPE = {'int': 'integer', 'float': 'float', 'bool': 'multiplechoice', 'str': 'text', 'path': 'text'}


@pytest.mark.parametrize('template', TEMPLATES, ids=[t['name'] for t in TEMPLATES])
def test_survey_agrees_with_the_argument_specs(template):
    options = _options(template['playbook'])
    questions = {q['variable']: q for q in (template['survey_spec'] or {}).get('spec', [])}
    for name, question in questions.items():
        assert name in options, f'{name} is asked but no role of {template["playbook"]} documents it'
        option = options[name]
        want = 'password' if option.get('no_log') else (
            'multiplechoice' if option.get('choices') else EXPECTED_TYPE[option.get('type', 'str')])
        assert question['type'] == want, name
        assert question['required'] == bool(option.get('required', False)), name
        assert question['question_description'] == _text(option.get('description')), name
        if option.get('choices'):
            assert question['choices'] == [str(c) for c in option['choices']], name
        if option.get('type') == 'bool':
            assert question['choices'] == ['true', 'false']
        # a password question carries no default: AWX would keep it as "$encrypted$" (generate-aap-config)
        if 'default' in option and not option.get('required') and question['type'] != 'password':
            default = option['default']
            expected = ('true' if default else 'false') if option.get('type') == 'bool' else default
            assert question.get('default') == expected, name
            # the exact type AWX checks (isinstance(default, float) refuses an int for a float question)
            assert type(question.get('default')) is ALLOWED_PY[question['type']], name  # pylint: disable=unidiomatic-typecheck
        else:
            assert 'default' not in question, name
    # what is not asked has a reason: the inventory says it, a credential supplies it, its default is a
    # template (computed where the job runs) or no survey type holds it (a free list)
    supplied = {'vault_ldap_username', 'vault_ldap_password', 'vault_role_id', 'vault_secret_id', 'kubeconfig'}
    for name, option in options.items():
        if name in questions:
            continue
        templated = '{{' in str(option.get('default', ''))
        assert (name in _inventory_names() or name in supplied or templated
                or option.get('type') in ('list', 'dict')), f'{name} of {template["playbook"]} is not in the survey'


ALLOWED_PY = {'text': str, 'password': str, 'multiplechoice': str, 'integer': int, 'float': float}


def test_inventory_names_stay_out_of_surveys():
    """A survey answer is an extra var: it would override production's inventory (heap dumps off there)."""
    assert 'incident_response_heap_dump' in _inventory_names()
    for template in TEMPLATES:
        asked = {q['variable'] for q in (template['survey_spec'] or {}).get('spec', [])}
        assert not asked & _inventory_names(), template['name']


# -- credential types, the workflow and the schedules ----------------------------------------------

def test_credential_types_inject_what_the_roles_read():
    defaults = '\n'.join(p.read_text() for p in (REPO / 'roles').glob('*/defaults/main.yml'))
    by_name = {c['name']: c for c in CREDENTIAL_TYPES}
    ldap = by_name['HaloBuzz Vault LDAP']
    assert set(ldap['injectors']['env']) == {'VAULT_LDAP_USERNAME', 'VAULT_LDAP_PASSWORD'}
    for ctype in CREDENTIAL_TYPES:
        fields = {f['id']: f for f in ctype['inputs']['fields']}
        assert set(ctype['inputs']['required']) <= set(fields)
        for env_name, value in ctype['injectors']['env'].items():
            if env_name not in ('KUBECONFIG', 'K8S_AUTH_KUBECONFIG'):
                assert f"lookup('ansible.builtin.env', '{env_name}')" in defaults, env_name
            assert value.strip('{} ').split('.')[0] in fields or value.startswith('{{ tower.filename.'), value
        for field in fields.values():
            if field['id'] in ('password', 'secret_id', 'kubeconfig'):
                assert field.get('secret') is True, field['id']
    kube = by_name['HaloBuzz kubeconfig']
    assert kube['injectors']['file'] == {'template.kubeconfig': '{{ kubeconfig }}'}
    assert BY_PLAYBOOK['playbooks/break_glass.yml']['credentials'] == ['HaloBuzz Vault LDAP']
    assert 'HaloBuzz kubeconfig' in BY_PLAYBOOK['playbooks/rollback.yml']['credentials']


def test_break_glass_workflow_is_approve_approval_open():
    (workflow,) = WORKFLOWS
    nodes = {n['identifier']: n for n in workflow['simplified_workflow_nodes']}
    approve, gate, opened = nodes['approve'], nodes['second_person'], nodes['open']
    template = BY_PLAYBOOK['playbooks/break_glass.yml']
    assert approve['unified_job_template'] == opened['unified_job_template'] == template['name']
    assert approve['extra_data'] == {'break_glass_action': 'approve'}
    assert opened['extra_data'] == {'break_glass_action': 'open'}
    assert approve['success_nodes'] == ['second_person'] and gate['success_nodes'] == ['open']
    assert 'unified_job_template' not in gate and gate['approval_node']['timeout'] > 0
    # the approve step runs with the team lead's Vault login, the open step with the on-call's (the template
    # prompts for credentials, so AWX accepts a node's)
    assert approve['credentials'] == ['HaloBuzz Vault LDAP (team lead)']
    assert opened['credentials'] == ['HaloBuzz Vault LDAP'] and template['ask_credential_on_launch']
    assert not approve['failure_nodes'] and not gate['failure_nodes'] and not approve['always_nodes']
    # the node's extra_data is accepted by the template (prompt on launch) and not overridden by the
    # workflow's survey, whose answers reach every node
    assert template['ask_variables_on_launch']
    asked = {q['variable'] for q in workflow['survey_spec']['spec']}
    assert 'break_glass_action' not in asked
    assert {'incident_id', 'reason', 'approved_by'} <= asked
    for node in (approve, opened):
        launch_extra_vars(template, dict(node['extra_data'], incident_id='INC-1', reason='r', approved_by='lead'))


def test_schedules():
    by_template = {s['unified_job_template']: s for s in SCHEDULES}
    rehearsal = by_template[BY_PLAYBOOK['playbooks/maintenance.yml']['name']]
    audit = by_template[BY_PLAYBOOK['playbooks/redis_check.yml']['name']]
    assert rehearsal['job_type'] == 'check' and rehearsal['diff_mode'] is True
    assert audit['job_type'] == 'run'
    for schedule in SCHEDULES:
        template = BY_NAME[schedule['unified_job_template']]
        assert template['ask_job_type_on_launch'] and template['ask_diff_mode_on_launch']
        assert schedule['rrule'].startswith('DTSTART') and 'RRULE:FREQ=WEEKLY' in schedule['rrule']
        launch_extra_vars(template, schedule['extra_data'])  # AWX accepts the schedule's extra_data
