"""Entry point of the pyalign plugin, a clipeval task plugin in Python (see ../README.md).

The harness starts it through hashicorp/go-plugin: it checks the magic cookie first (otherwise the program is not
being run as a plugin), then imports its dependencies, re-running itself under the system's /usr/bin/python3 when
the python3 first on PATH lacks them (a pyenv or virtualenv interpreter without Debian's python3-grpcio), and
serves.
"""

import os
import sys

COOKIE_KEY = "CLIPEVAL_PLUGIN_MAGIC_COOKIE"
COOKIE_VALUE = "7f1c0c5e-clipeval-plugin"
SYSTEM_PYTHON = "/usr/bin/python3"
REEXEC_ENV = "PYALIGN_REEXECUTED"


def _program():
    """Returns the path this plugin was started as: the zip application, or the launcher script."""
    return os.path.abspath(sys.argv[0])


def _imports_or_reexec():
    try:
        import grpc  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        import google.protobuf  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        import numpy  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError as err:
        here = os.path.realpath(sys.executable or "")
        if (os.environ.get(REEXEC_ENV) != "1" and os.access(SYSTEM_PYTHON, os.X_OK)
                and os.path.realpath(SYSTEM_PYTHON) != here):
            os.environ[REEXEC_ENV] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, _program()] + sys.argv[1:])
        print("pyalign needs grpcio, protobuf and numpy (Debian: apt-get install python3-grpcio python3-protobuf "
              "python3-numpy): %s" % err, file=sys.stderr)
        sys.exit(1)


def main():
    """Checks the handshake cookie and the dependencies, then serves until the harness ends the plugin."""
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        print("pyalign is a clipeval plugin: the clipeval harness starts it (see `clipeval plugins`); "
              "it is not run by hand", file=sys.stderr)
        sys.exit(2)
    _imports_or_reexec()
    import server  # pylint: disable=import-outside-toplevel
    sys.exit(server.serve())


if __name__ == "__main__":
    main()
