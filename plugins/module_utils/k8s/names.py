# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Object names as the API server validates them, checked before any call, and API paths built from them.

The rules are apimachinery's ``pkg/util/validation/validation.go``: ``IsDNS1123Label`` (at most 63
characters of ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``) for namespaces (``ValidateNamespaceName``) and
``IsDNS1123Subdomain`` (at most 253 characters, labels joined by dots) for Deployments, Pods and Nodes
(``NameIsDNSSubdomain``, ``ValidateNodeName``). A name that fails them could never name an object, so it is
refused with a message naming the input; a name that passes has no ``/``, ``%`` or ``..`` that could reach
another path, and every segment is quoted all the same (``api_path``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from urllib.parse import quote

from ansible_collections.halobuzz.ops.plugins.module_utils.common.errors import HaloBuzzError

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(r"^%s$" % _LABEL)
_SUBDOMAIN_RE = re.compile(r"^%s(\.%s)*$" % (_LABEL, _LABEL))


class InvalidName(HaloBuzzError):
    """A namespace or object name the API server would reject; nothing was called."""


def _shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def dns1123_label_problem(value):
    """Why ``value`` is not an RFC 1123 label (apimachinery IsDNS1123Label), or None."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > DNS1123_LABEL_MAX:
        return "must be no more than %d characters" % DNS1123_LABEL_MAX
    if not _LABEL_RE.match(value):
        return ("must consist of lower case alphanumeric characters or '-', and must start and end with an "
                "alphanumeric character (e.g. 'my-name' or '123-abc')")
    return None


def dns1123_subdomain_problem(value):
    """Why ``value`` is not an RFC 1123 subdomain (apimachinery IsDNS1123Subdomain), or None."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return "must be no more than %d characters" % DNS1123_SUBDOMAIN_MAX
    if not _SUBDOMAIN_RE.match(value):
        return ("must consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
                "an alphanumeric character (e.g. 'example.com')")
    return None


def check_namespace(value, option="namespace"):
    """``value`` when it is a valid namespace name, else InvalidName naming ``option``."""
    problem = dns1123_label_problem(value)
    if problem:
        raise InvalidName("%s %s is not a valid Kubernetes namespace name: it %s (RFC 1123 label). "
                          "Nothing was called or changed." % (option, _shown(value), problem))
    return value


def check_name(value, kind, option="name"):
    """``value`` when it is a valid object name of ``kind``, else InvalidName naming ``option``."""
    problem = dns1123_subdomain_problem(value)
    if problem:
        raise InvalidName("%s %s is not a valid %s name: it %s (RFC 1123 subdomain). "
                          "Nothing was called or changed." % (option, _shown(value), kind, problem))
    return value


def api_path(template, *segments):
    """An API path with every segment percent-quoted (no ``/`` survives inside a segment)."""
    return template % tuple(quote(str(segment), safe="") for segment in segments)
