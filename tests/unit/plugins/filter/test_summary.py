"""The closing Found / Did / Next lines (issue 19)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.halobuzz.ops.plugins.filter.summary import oncall_summary


def test_a_healthy_run_says_all_is_well():
    assert oncall_summary('backend healthy: healthz 200, 3/3 pods Ready') == [
        'Found: backend healthy: healthz 200, 3/3 pods Ready', 'Did: nothing', 'Next: nothing: all is well']


def test_check_mode_never_claims_a_change_in_the_past_tense():
    lines = oncall_summary('backend down', [{'what': 'rolling restart of deployment backend',
                                             'before': 'revision 3', 'after': 'revision 4'}],
                           'ansible-playbook playbooks/rollback.yml', check_mode=True)
    assert lines == ['Found: backend down',
                     'Would do: rolling restart of deployment backend (revision 3 -> revision 4)',
                     'Next: ansible-playbook playbooks/rollback.yml']
    assert oncall_summary('ok', [], check_mode=True)[1] == 'Would do: nothing would change'


def test_changes_may_be_strings_and_whitespace_collapses_to_one_line():
    lines = oncall_summary('error rate\n 12 %', ['set AI_MODERATION=false', {'what': 'scale', 'after': 5}])
    assert lines[0] == 'Found: error rate 12 %'
    assert lines[1] == 'Did: set AI_MODERATION=false; scale (- -> 5)'


@pytest.mark.parametrize('found, changes', [('', []), ('x', [{'before': 1}]), ('x', [3])])
def test_bad_input_names_what_is_wrong(found, changes):
    with pytest.raises(AnsibleFilterError, match='oncall_summary'):
        oncall_summary(found, changes)
