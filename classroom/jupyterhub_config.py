"""JupyterHub for one class on one machine: PAM users, local processes, the course's limits.

Made by ``classroom/class.sh setup`` (run it first: it writes ``$CLASS_PREFIX/class.conf``,
which this file reads) and started as root::

    cd /opt/event-loop-io/state && /opt/event-loop-io/env/bin/jupyterhub \\
        -f /path/to/checkout/classroom/jupyterhub_config.py

What it sets, and why (TEACHING.md, "Setting up a shared JupyterHub"):

* learners and the teacher are the machine's own accounts (PAM); the class's group may log in,
  the teacher is the hub's admin;
* each server runs as its user, from the shared environment ``$CLASS_PREFIX/env`` (the
  hand-out's wheel, JupyterLab, nbgrader for fetch and submit), in the user's home;
* each server may open ``CLASS_NOFILE`` descriptors (chapter 09 needs about 1,100): the limit
  is raised before the server drops root, so it holds whatever the hub's own limit is;
* the hub's database and cookie secret live in ``$CLASS_PREFIX/state`` (root only).

``CLASS_BIND_URL``, ``CLASS_HUB_BIND_URL`` and ``CLASS_PROXY_API_URL`` in the environment move
the hub's ports (tests/test_classroom.py puts all three on free loopback ports).
"""

from __future__ import annotations

import os
import resource
import shlex
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821  (JupyterHub provides it)

PREFIX = Path(os.environ.get("CLASS_PREFIX", "/opt/event-loop-io"))


def class_settings(prefix: Path) -> dict[str, str]:
    """``KEY=value`` lines of ``class.conf``, as class.sh wrote them (values shell-quoted)."""
    settings = {}
    for line in (prefix / "class.conf").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            settings[key.strip()] = " ".join(shlex.split(value))
    return settings


CLASS = class_settings(PREFIX)
NOFILE = int(CLASS.get("CLASS_NOFILE", "4096"))
ENV = PREFIX / "env"


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose servers may open ``NOFILE`` descriptors (soft and hard)."""

    def make_preexec_fn(self, name):
        drop_to_user = super().make_preexec_fn(name)

        def preexec():
            # Still root here: the hard limit may go up, past the hub's own if need be.
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
            drop_to_user()

        return preexec


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(ENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    # kernels and terminals find jupyter, nbgrader and the course's python here
    "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
}
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.admin_users = {CLASS["CLASS_TEACHER"]}
c.PAMAuthenticator.allowed_groups = {CLASS["CLASS_GROUP"]}

c.JupyterHub.bind_url = os.environ.get("CLASS_BIND_URL", "http://:8000")
c.JupyterHub.hub_bind_url = os.environ.get("CLASS_HUB_BIND_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = os.environ.get("CLASS_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.command = [CLASS.get("CLASS_PROXY", "configurable-http-proxy")]

STATE = PREFIX / "state"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
