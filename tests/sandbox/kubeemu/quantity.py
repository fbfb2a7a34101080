"""Resource quantities (`250m` CPU, `512Mi` memory) as the sandbox config and pod specs write them.

A subset of apimachinery's `resource.Quantity`: a decimal number and one suffix from the table given.
"""

import re

CPU = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0}
MEMORY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "k": 1e3, "M": 1e6, "G": 1e9, "": 1}


def parse_quantity(text, table):
    """The quantity in base units (cores, bytes); ValueError when it is not one."""
    m = re.match(r"^([0-9.]+)([A-Za-z]*)$", str(text).strip())
    if not m or m.group(2) not in table:
        raise ValueError("invalid quantity %r" % text)
    return float(m.group(1)) * table[m.group(2)]
