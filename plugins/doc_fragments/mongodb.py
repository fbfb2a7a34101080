# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HaloBuzz DevOps Team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection and authentication options of every halobuzz.ops MongoDB module.
    DOCUMENTATION = r'''
options:
  mongodb_uri:
    description:
      - MongoDB connection string, for example C(mongodb://user:pass@db-0.example:27017/?replicaSet=rs0).
      - It usually carries credentials, so it is never logged or returned.
      - Mutually exclusive with O(host), O(username) and O(password).
    type: str
  host:
    description:
      - Host name of the MongoDB server when O(mongodb_uri) is not used.
      - Defaults to C(localhost) when neither O(mongodb_uri) nor O(host) is given.
    type: str
  port:
    description: Port of the MongoDB server when O(mongodb_uri) is not used.
    type: int
    default: 27017
  username:
    description: User to authenticate as when O(mongodb_uri) is not used.
    type: str
  password:
    description: Password of O(username). Never logged or returned.
    type: str
  auth_source:
    description: Database that holds O(username)'s credentials.
    type: str
    default: admin
  tls:
    description: Connect with TLS (only used without O(mongodb_uri); put C(tls=true) in the URI otherwise).
    type: bool
    default: false
  tls_ca_file:
    description: CA bundle to verify the server's certificate with, when O(tls=true).
    type: path
  tls_allow_invalid_certificates:
    description: Accept a server certificate that does not verify. Only for test servers.
    type: bool
    default: false
  server_selection_timeout:
    description:
      - Seconds to wait for a usable server before failing (pymongo's C(serverSelectionTimeoutMS)).
    type: int
    default: 30
requirements:
  - pymongo >= 4.0 on the host that runs the module
'''
