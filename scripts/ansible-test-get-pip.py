"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test creates its sanity virtual environments without pip and then runs a cached
get-pip script (~/.ansible/test/cache/get_pip_<version>.py) fetched from a host these machines
cannot reach. This script does the same job with what every CPython ships: ensurepip installs the
bundled pip, which then installs the exact packages ansible-test asked for from the package index.
"""
import ensurepip
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {'--no-setuptools', '--no-wheel'}


def main():
    requested = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    ensurepip.bootstrap(upgrade=True)
    return subprocess.call([sys.executable, '-m', 'pip', 'install', '--quiet'] + requested)


if __name__ == '__main__':
    sys.exit(main())
