# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis replies -> Python values: the INFO text format, read by info.py (triage) and keys.py (keyspace).

Pure functions, no connection: the layer between client.py and the topic files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def typed(value):
    """'12' -> 12, '0.75' -> 0.75, anything else stays a string."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def parse_info(text):
    """Parse INFO output into {section: {field: typed value}}.

    Keyspace lines (db0:keys=1,expires=0,avg_ttl=0) and other comma lists of k=v become dicts.
    """
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    sections = {}
    current = sections.setdefault('default', {})
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith('#'):
            current = sections.setdefault(line.lstrip('#').strip().lower(), {})
            continue
        if ':' not in line:
            continue
        key, value = line.split(':', 1)
        if '=' in value and (key.startswith('db') or key.startswith('slave') or key.startswith('cmdstat_')):
            current[key] = dict((k, typed(v)) for k, v in (part.split('=', 1) for part in value.split(',')
                                                           if '=' in part))
        else:
            current[key] = typed(value)
    if not sections['default']:
        del sections['default']
    return sections
