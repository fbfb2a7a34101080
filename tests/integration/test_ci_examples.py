"""The CI examples (examples/ci/) run their commands against the sandbox, with Vault JWT auth and a JWT this test signs.

Not the CI services: each pipeline's YAML is parsed and its shell commands run as the service would run
them, in a workspace that is this checkout (symlinked), with the variables the service gives a job:
- GitHub Actions: the workflow's, job's and step's `env` (the ${{ }} expressions this file uses evaluated
  from github.*, vars.*, inputs.*), each `run` step in `bash --noprofile --norc -eo pipefail` (GitHub's
  default shell on Linux), later steps skipped after a failure unless `if: always()`, $GITHUB_ENV and
  $RUNNER_TEMP; the job's OIDC token is served by a stand-in for GitHub's token endpoint
  (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN; docs.github.com "Configuring OpenID Connect in cloud providers":
  GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=..., bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN, answer
  {"value": <JWT>}), with GitHub's claims (iss token.actions.githubusercontent.com, sub
  repo:<repo>:environment:<env>, repository, environment, event_name, ref).
- GitLab CI: the global and job variables (a project CI/CD variable wins over a YAML one, as in GitLab),
  `extends`, the job's `script` lines in one `bash -eo pipefail` shell, and the `id_tokens` JWT in its
  variable with GitLab's claims (sub project_path:<path>:ref_type:branch:ref:<ref>, project_path,
  ref_protected, pipeline_source).
`uses:` steps (checkout, setup-python, upload-artifact) and the pip install steps are the service's and the
image's part: this checkout and its venv stand in for them. The artifact step's path is checked instead:
the run record must be there.
Vault is configured as examples/ci/README.md says, through Vault's API with the sandbox's root token: a
policy per pipeline, the JWT auth method's key (jwt_validation_pubkeys) and roles bound to audience and
claims, and the secrets under secret/ci/. The endpoints the jobs must fetch from Vault (KUBECONFIG,
REDIS_URL) are removed from the jobs' environment, so the runs prove the JWT path.
"""
from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

hvac = pytest.importorskip('hvac')
jwt = pytest.importorskip('jwt')
rsa = pytest.importorskip('cryptography.hazmat.primitives.asymmetric.rsa')
serialization = pytest.importorskip('cryptography.hazmat.primitives.serialization')

REPO = Path(__file__).resolve().parents[2]
CI = REPO / 'examples' / 'ci'
GITHUB = yaml.safe_load((CI / 'github' / 'halobuzz-scheduled-runbooks.yml').read_text())
GITLAB = yaml.safe_load((CI / 'gitlab' / '.gitlab-ci.yml').read_text())
GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'
GITLAB_ISSUER = 'https://gitlab.halobuzz.com'
REPOSITORY = 'halobuzz/ops'
AUDIENCE = 'https://vault.halobuzz.com'
# what each pipeline job reads from Vault, and which secret the sandbox gives it
ROLES = {
    'halobuzz-ci-maintenance-rehearsal': ('ci/kubeconfig', 'kubeconfig', 'maintenance'),
    'halobuzz-ci-key-audit': ('ci/redis', 'url', 'redis_check'),
}
FROM_VAULT = ('KUBECONFIG', 'REDIS_URL', 'SANDBOX_ONCALL_USER', 'SANDBOX_ONCALL_PASSWORD')


# -- Vault, configured as examples/ci/README.md says -------------------------------------------------

@pytest.fixture(scope='module')
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def setup_vault(sandbox_env, sandbox_secrets, signing_key, bound_claims):
    """After the scenario's reset (which resets Vault too): key, policies, secrets and roles."""
    admin = hvac.Client(url=sandbox_env['VAULT_ADDR'], token=sandbox_secrets['vault_root_token'])
    mounts = admin.sys.list_auth_methods()
    mounts = mounts.get('data', mounts)
    if 'jwt/' not in mounts:
        try:
            admin.sys.enable_auth_method('jwt')
        except hvac.exceptions.VaultError as exc:
            pytest.fail(f'the sandbox Vault has no JWT auth method (auth/jwt/): {exc}')
    admin.write('auth/jwt/config', jwt_validation_pubkeys=[_public_pem(signing_key)])
    values = {'ci/kubeconfig': {'kubeconfig': Path(sandbox_env['KUBECONFIG']).read_text()},
              'ci/redis': {'url': sandbox_env['REDIS_URL']}}
    for role, (path, _field, _playbook) in ROLES.items():
        admin.sys.create_or_update_policy(role, 'path "secret/data/%s" {\n  capabilities = ["read"]\n}\n' % path)
        admin.secrets.kv.v2.create_or_update_secret(path=path, secret=values[path], mount_point='secret')
    vault_ci = {'admin': admin, 'values': values}
    bind_roles(vault_ci, bound_claims)
    return vault_ci


def bind_roles(vault_ci, bound_claims):
    """One JWT role per pipeline job, bound to the audience and to the CI service's claims for this
    repository (examples/ci/README.md: GitHub repository + environment, GitLab project_path + ref_protected)."""
    for role in ROLES:
        vault_ci['admin'].write(f'auth/jwt/role/{role}', role_type='jwt', bound_audiences=[AUDIENCE],
                                user_claim='sub', bound_claims_type='string', bound_claims=bound_claims,
                                token_policies=[role], token_ttl='15m', token_max_ttl='30m')


GITHUB_BOUND = {'repository': REPOSITORY, 'environment': 'production'}
GITLAB_BOUND = {'project_path': REPOSITORY, 'ref_protected': 'true'}


def sign(key, claims):
    now = int(time.time())
    return jwt.encode(dict({'iat': now, 'nbf': now, 'exp': now + 600, 'jti': secrets.token_hex(8)}, **claims),
                      key, algorithm='RS256', headers={'kid': 'halobuzz-test'})


def github_claims(repository=REPOSITORY, environment='production'):
    return {'iss': GITHUB_ISSUER, 'sub': f'repo:{repository}:environment:{environment}', 'repository': repository,
            'environment': environment, 'event_name': 'schedule', 'ref': 'refs/heads/main',
            'repository_owner': repository.split('/')[0], 'workflow': GITHUB['name']}


def gitlab_claims(project_path=REPOSITORY, ref_protected='true'):
    return {'iss': GITLAB_ISSUER, 'sub': f'project_path:{project_path}:ref_type:branch:ref:main',
            'project_path': project_path, 'ref': 'main', 'ref_type': 'branch', 'ref_protected': ref_protected,
            'pipeline_source': 'schedule', 'namespace_path': project_path.split('/')[0]}


# -- the workspace and the environment every job starts from ------------------------------------------

def workspace(tmp_path):
    """This checkout as the service's checkout step leaves it, with no records/ of its own."""
    ws = tmp_path / 'workspace'
    ws.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in ('records', '.sandbox', '.git'):
            (ws / entry.name).symlink_to(entry)
    return ws


def base_env(sandbox_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'HALOBUZZ_', 'VAULT_'))}
    env.update({k: v for k, v in sandbox_env.items() if k not in FROM_VAULT})
    # setup-python + pip install in the pipeline: here the venv that has the requirements
    env['PATH'] = os.pathsep.join([str(REPO / '.venv' / 'bin'), env.get('PATH', '')])
    return env


def bash(script, env, cwd):
    return subprocess.run(['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', script], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900, check=False)


def assert_records(records: Path, playbook: str, check_mode: bool):
    jsonl = sorted(records.glob(f'*-{playbook}.jsonl'))
    assert jsonl, f'no run record of {playbook} in {records}: {sorted(p.name for p in records.glob("*"))}'
    lines = [json.loads(line) for line in jsonl[-1].read_text().splitlines()]
    assert lines[0]['playbook'] == f'{playbook}.yml' and lines[0]['check_mode'] is check_mode
    assert lines[-1]['type'] == 'stats' and lines[-1]['result'] == 'succeeded'
    assert jsonl[-1].with_suffix('.md').is_file()


# -- GitHub Actions ---------------------------------------------------------------------------------

class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """GitHub's OIDC token endpoint as a job sees it: bearer request token, audience in the query."""
    request_token = ''
    mint = None

    def do_GET(self):  # pylint: disable=invalid-name
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if self.headers.get('Authorization') != f'bearer {self.request_token}':
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({'count': 1, 'value': type(self).mint(query.get('audience', [''])[0])}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def token_endpoint():
    handler = type('Handler', (_TokenEndpoint,), {'request_token': secrets.token_hex(16)})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f'http://127.0.0.1:{server.server_address[1]}/token?api-version=2.0'
    server.shutdown()
    server.server_close()


_EXPR = re.compile(r'\$\{\{\s*(.*?)\s*\}\}')


def github_expr(text, context):
    """The ${{ }} expressions the workflow uses: context lookups, `a || 'literal'`, == comparisons, always()."""
    def value(expr):
        expr = expr.strip()
        if ' || ' in expr:
            return next((v for v in (value(part) for part in expr.split(' || ')) if v), '')
        if ' == ' in expr:
            left, right = expr.split(' == ', 1)
            return value(left) == value(right)
        if expr.startswith("'") and expr.endswith("'"):
            return expr[1:-1]
        if expr == 'always()':
            return True
        node = context
        for part in expr.split('.'):
            if not isinstance(node, dict):
                raise AssertionError(f'unknown expression {expr!r} in the workflow')
            node = node.get(part, '')
        return node
    if isinstance(text, str) and text.startswith('${{') and text.endswith('}}') and text.count('${{') == 1:
        return value(_EXPR.match(text).group(1))
    return _EXPR.sub(lambda m: str(value(m.group(1))), str(text))


def github_if(condition, context):
    if condition is None:
        return None
    return bool(github_expr('${{ %s }}' % condition if '${{' not in str(condition) else condition, context))


def run_github_job(job_name, cron, sandbox_env, tmp_path, token_endpoint, repo_vars):
    job = GITHUB['jobs'][job_name]
    ws = workspace(tmp_path)
    runner_temp = tmp_path / 'runner_temp'
    runner_temp.mkdir()
    github_env = runner_temp / 'github_env'
    github_env.touch()
    context = {'github': {'workspace': str(ws), 'run_id': '777', 'event_name': 'schedule',
                          'event': {'schedule': cron}},
               'vars': repo_vars, 'inputs': {}}
    assert github_if(job['if'], context), f'{job_name} does not run on the schedule {cron!r}'
    handler, url = token_endpoint
    env = base_env(sandbox_env)
    env.update(RUNNER_TEMP=str(runner_temp), GITHUB_ENV=str(github_env), GITHUB_WORKSPACE=str(ws), CI='true',
               ACTIONS_ID_TOKEN_REQUEST_URL=url, ACTIONS_ID_TOKEN_REQUEST_TOKEN=handler.request_token)
    for scope in (GITHUB.get('env') or {}, job.get('env') or {}):
        env.update({k: str(github_expr(v, context)) for k, v in scope.items()})
    failed, outputs, artifacts = False, [], []
    for step in job['steps']:
        condition = step.get('if')
        if failed and not (condition and github_if(condition, context)):
            continue
        if 'uses' in step:
            if step['uses'].startswith('actions/upload-artifact@'):
                artifacts.append(ws / github_expr(step['with']['path'], context))
            continue
        if step['run'].startswith('python -m pip install'):
            continue
        step_env = dict(env, **{k: str(github_expr(v, context)) for k, v in (step.get('env') or {}).items()})
        for line in github_env.read_text().splitlines():
            if '=' in line:
                name, val = line.split('=', 1)
                step_env[name] = val
        result = bash(github_expr(step['run'], context), step_env, ws)
        outputs.append((step.get('name'), result))
        failed = failed or result.returncode != 0
    return failed, outputs, artifacts, runner_temp


GITHUB_CASES = [('maintenance-rehearsal', '0 3 * * 1', 'maintenance', True),
                ('key-audit', '0 4 * * 1', 'redis_check', False)]


@pytest.mark.parametrize('job_name, cron, playbook, check_mode', GITHUB_CASES, ids=[c[0] for c in GITHUB_CASES])
# pylint: disable-next=too-many-arguments,too-many-positional-arguments
def test_github_scheduled_job(job_name, cron, playbook, check_mode, sandbox_env, sandbox_secrets, scenario, signing_key,
                              token_endpoint, tmp_path):
    scenario('healthy')
    vault_ci = setup_vault(sandbox_env, sandbox_secrets, signing_key, GITHUB_BOUND)
    token_endpoint[0].mint = staticmethod(lambda aud: sign(signing_key, dict(github_claims(), aud=aud)))
    repo_vars = {'VAULT_ADDR': sandbox_env['VAULT_ADDR'], 'VAULT_AUDIENCE': AUDIENCE,
                 'HALOBUZZ_INVENTORY': 'inventories/sandbox', 'HALOBUZZ_REHEARSAL_NODES': '["node-1"]'}
    failed, outputs, artifacts, runner_temp = run_github_job(job_name, cron, sandbox_env, tmp_path,
                                                             token_endpoint, repo_vars)
    log = '\n'.join(f'--- {name}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}' for name, r in outputs)
    assert not failed, log
    (artifact,) = artifacts
    assert artifact == tmp_path / 'workspace' / 'records/'
    assert_records(artifact, playbook, check_mode)
    assert not list(runner_temp.glob('halobuzz-ci*')) and not (runner_temp / 'ci.jwt').exists()
    for value in vault_ci['values']['ci/kubeconfig'].values():
        assert value not in log


def test_github_job_of_another_repository_is_refused(sandbox_env, sandbox_secrets, scenario, signing_key, token_endpoint,
                                                     tmp_path):
    """The role's bound claims decide: a token of another repository logs in nowhere, the playbook never runs,
    and the artifact step (if-no-files-found: error) has no record to upload."""
    scenario('healthy')
    setup_vault(sandbox_env, sandbox_secrets, signing_key, GITHUB_BOUND)
    token_endpoint[0].mint = staticmethod(
        lambda aud: sign(signing_key, dict(github_claims(repository='someone/fork'), aud=aud)))
    repo_vars = {'VAULT_ADDR': sandbox_env['VAULT_ADDR'], 'VAULT_AUDIENCE': AUDIENCE,
                 'HALOBUZZ_INVENTORY': 'inventories/sandbox'}
    failed, outputs, artifacts, _runner_temp = run_github_job('key-audit', '0 4 * * 1', sandbox_env, tmp_path,
                                                              token_endpoint, repo_vars)
    assert failed
    login = dict(outputs)['Log in to Vault (JWT) and fetch the Redis URL']
    assert login.returncode == 1 and 'Vault answered' in login.stderr and 'auth/jwt/login' in login.stderr
    assert 'Key audit' not in dict(outputs)
    assert not list(artifacts[0].glob('*.jsonl'))


# -- GitLab CI --------------------------------------------------------------------------------------

def gitlab_job(name):
    job = dict(GITLAB[name])
    base = GITLAB[job.pop('extends')] if 'extends' in job else {}
    return dict(base, **job)


def _expand(value, env):
    return re.sub(r'\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?', lambda m: env.get(m.group(1), ''), str(value))


GITLAB_CASES = [('maintenance-rehearsal', 'maintenance', True), ('key-audit', 'redis_check', False)]


@pytest.mark.parametrize('job_name, playbook, check_mode', GITLAB_CASES, ids=[c[0] for c in GITLAB_CASES])
# pylint: disable-next=too-many-arguments,too-many-positional-arguments
def test_gitlab_scheduled_job(job_name, playbook, check_mode, sandbox_env, sandbox_secrets, scenario, signing_key, tmp_path):
    scenario('healthy')
    setup_vault(sandbox_env, sandbox_secrets, signing_key, GITLAB_BOUND)
    job = gitlab_job(job_name)
    ws = workspace(tmp_path)
    # the schedule's variable, and project CI/CD variables (which win over the YAML's)
    project_vars = {'HALOBUZZ_RUNBOOK': job_name, 'VAULT_ADDR': sandbox_env['VAULT_ADDR'],
                    'HALOBUZZ_INVENTORY': 'inventories/sandbox', 'HALOBUZZ_REHEARSAL_NODES': '["node-1"]'}
    env = base_env(sandbox_env)
    env.update(CI='true', CI_PROJECT_DIR=str(ws), CI_PIPELINE_SOURCE='schedule', CI_JOB_NAME=job_name)
    for name, value in (GITLAB.get('variables') or {}).items():
        env[name] = _expand(value, env)
    env.update(project_vars)
    rule = job['rules'][0]['if']
    wanted = re.match(r'\$(\w+) == "(.*)"', rule)
    assert env.get(wanted.group(1)) == wanted.group(2), rule
    for name, spec in job['id_tokens'].items():
        env[name] = sign(signing_key, dict(gitlab_claims(), aud=spec['aud']))
    result = bash('\n'.join(job['script']), env, ws)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert job['artifacts']['when'] == 'always'
    (path,) = job['artifacts']['paths']
    assert (ws / path).resolve() == Path(env['HALOBUZZ_RECORDS_DIR']).resolve()
    assert_records(ws / path, playbook, check_mode)
