"""pytest fixtures for the integration tests.

`server` is a runnel-server (path from $RUNNEL_SERVER, set by ctest) on a
free port with a fresh --dir; `server_factory(args=..., config=...)` starts
more with extra arguments. Every server started through them is stopped at
teardown with SIGTERM and must exit with code 0, so an ASan report or a
crash fails the test with the server's stderr.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runnel  # noqa: E402


def _binary():
    path = runnel.runnel_binary()
    if not path:
        pytest.fail("RUNNEL_SERVER is not set (path to runnel-server)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail("RUNNEL_SERVER=%s is not executable" % path, pytrace=False)
    return path


@pytest.fixture
def server_factory():
    """Start servers: factory(args=(), config=None, start=True) -> runnel.Server."""
    started = []

    def factory(args=(), config=None, start=True):
        srv = runnel.Server(_binary(), "runnel", args=args, config=config)
        started.append(srv)
        try:
            srv.start() if start else srv.spawn()
        except runnel.ServerError as e:
            pytest.fail(str(e), pytrace=False)
        return srv

    yield factory
    errors = []
    for srv in started:
        try:
            if srv.returncode is None:
                srv.stop()
            elif srv.returncode != 0 and not getattr(srv, "expect_failure", False):
                errors.append("%s exited with %d\n%s"
                              % (srv.binary, srv.returncode, srv.output()))
        except runnel.ServerError as e:
            errors.append(str(e))
        finally:
            srv.cleanup()
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def server(server_factory):
    """One runnel-server with default arguments."""
    return server_factory()


@pytest.fixture
def raw(server):
    """A raw RESP client connected to `server`."""
    c = server.client()
    yield c
    c.close()
