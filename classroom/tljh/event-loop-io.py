"""The course's settings for The Littlest JupyterHub. NOT TESTED: TLJH needs systemd and a
machine of its own, which the project's test machines are not (classroom/README.md says what
is tested, on plain JupyterHub, and what is not).

Copy to /opt/tljh/config/jupyterhub_config.d/event-loop-io.py, then `sudo tljh-config reload`.
"""

c = get_config()  # noqa: F821  (JupyterHub provides it)

# Chapter 09 opens about 1,100 descriptors in one kernel: each user's systemd unit may open
# 4096 (TLJH runs every server as a systemd unit, so a ulimit in a shell would not reach it).
c.SystemdSpawner.unit_extra_properties = {"LimitNOFILE": "4096"}
c.Spawner.default_url = "/lab"
