"""playbooks/ansible.cfg says what ../ansible.cfg says, and playbooks/collections links the checkout.

Ansible reads ansible.cfg from the current directory only, so `cd playbooks && ansible-playbook
rollback.yml` needs a file there; relative paths in an ansible.cfg are resolved from the file's own
directory (ansible/config/manager.py: ensure_type(..., origin=cfile) -> resolve_path(basedir=cfile)).
"""
import configparser
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PATH_KEYS = {('defaults', 'collections_path'), ('defaults', 'roles_path'), ('defaults', 'inventory'),
             ('callback_incident_timeline', 'records_dir')}


def settings(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    values = {}
    for section in parser.sections():
        for key, value in parser.items(section):
            if (section, key) in PATH_KEYS:
                value = os.path.realpath(os.path.join(os.path.dirname(path), value))
            values[(section, key)] = value
    return values


def test_playbooks_ansible_cfg_matches_the_root_one():
    root = settings(os.path.join(REPO, 'ansible.cfg'))
    here = settings(os.path.join(REPO, 'playbooks', 'ansible.cfg'))
    assert set(root) == set(here)
    for key, value in root.items():
        assert here[key] == value, key


@pytest.mark.parametrize('link', ['playbooks/collections/ansible_collections/halobuzz/ops',
                                  '.collections/ansible_collections/halobuzz/ops'])
def test_collection_links_reach_this_checkout(link):
    path = os.path.join(REPO, link)
    assert os.path.islink(path) and not os.path.isabs(os.readlink(path))
    assert os.path.realpath(path) == os.path.realpath(REPO)


def test_the_links_and_the_second_cfg_stay_out_of_the_tarball():
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        text = handle.read()
    for entry in ('playbooks/collections', 'playbooks/ansible.cfg', '.collections'):
        assert '  - %s\n' % entry in text
