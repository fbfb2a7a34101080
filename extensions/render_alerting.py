"""Render the HaloBuzz Prometheus rules and Alertmanager configuration without Ansible.

The source of truth is the role roles/alerting: its defaults/main.yml and its two templates. This file
renders them with plain Jinja2 (the templates use only filters plain Jinja2 has) so that tools without
Ansible - the sandbox, which loads this file by path with importlib - get exactly what
playbooks/alerting.yml renders for the same variables.

    render(overrides) -> {"rules": str, "alertmanager": str}

`overrides` maps variable names to values, as -e would: the role's alerting_* names, and the public
names its defaults read (k8s_namespace, slack_webhook_url). A dict replaces the default dict whole,
as Ansible's variable precedence does.
"""
from pathlib import Path

import jinja2
import yaml

ROLE = Path(__file__).resolve().parent.parent / "roles" / "alerting"
TEMPLATES = {"rules": "halobuzz-rules.yml.j2", "alertmanager": "alertmanager.yml.j2"}


def _environment():
    # The options of Ansible's template module (trim_blocks true, lstrip_blocks false, the template's
    # trailing newline kept); an undefined variable is an error, as it is in Ansible.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True,
                              lstrip_blocks=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                              autoescape=False)


def variables(overrides=None):
    """The role's defaults with `overrides` applied and the defaults' expressions evaluated."""
    overrides = dict(overrides or {})
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()) or {}
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    values = dict(overrides)
    for name, value in defaults.items():
        if name in overrides:
            continue
        if isinstance(value, str) and "{{" in value:
            value = env.from_string(value).render(**overrides)
        values[name] = value
    return values


def render(overrides=None):
    """{"rules": the Prometheus rule file, "alertmanager": the Alertmanager configuration}."""
    values = variables(overrides)
    env = _environment()
    return {key: env.get_template(name).render(**values) for key, name in TEMPLATES.items()}


if __name__ == "__main__":  # python extensions/render_alerting.py: rewrite the checked-in renderings
    OUT = render({})
    HERE = Path(__file__).resolve().parent
    (HERE / "prometheus" / "halobuzz-rules.yml").write_text(OUT["rules"])
    (HERE / "alertmanager" / "alertmanager.yml").write_text(OUT["alertmanager"])
