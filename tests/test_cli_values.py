"""What the CLI refuses, and how it stops (eventloop/cli_values.py, eventloop/cli_stop.py).

Each bad value is one the hardening review tried: it must cost one line on stderr and exit
status 2, before anything is bound; SIGTERM and SIGHUP must stop a server as Ctrl-C does.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from eventloop.cli import main
from eventloop.cli_values import means_every_interface

BAD_COMMANDS = [
    pytest.param(["serve", "--time-port", "70000"], "70000 is not a port", id="port too high"),
    pytest.param(["serve", "--echo-port", "-1"], "-1 is not a port", id="negative port"),
    pytest.param(["udp-echo", "--port", "65536"], "not a port", id="udp-echo port"),
    pytest.param(["tcp-echo", "--port", "http"], "'http' is not a whole number", id="port name"),
    pytest.param(["udp-echo", "--duration", "nan"], "not a usable duration", id="duration nan"),
    pytest.param(["tcp-echo", "--duration", "inf"], "not a usable duration", id="duration inf"),
    pytest.param(["serve", "--duration", "1e300"], "at most 604800", id="duration 1e300"),
    pytest.param(["serve", "--duration", "-5"], "above 0", id="negative duration"),
    pytest.param(["serve", "--duration", "soon"], "not a number of seconds", id="duration word"),
    pytest.param(["tcp-echo", "--high-water", "-1"], "-1 bytes", id="negative high water"),
    pytest.param(["tcp-echo", "--high-water", "0"], "at least 1 byte", id="zero high water"),
    pytest.param(
        ["tcp-echo", "--high-water", "100", "--low-water", "200"],
        "--low-water 200 is above --high-water 100",
        id="low above high",
    ),
    pytest.param(["grade", "x.ipynb", "--jobs", "0"], "too few", id="zero jobs"),
    pytest.param(["grade", "x.ipynb", "--timeout", "nan"], "not a usable", id="grade nan timeout"),
]


@pytest.mark.parametrize("argv, says", BAD_COMMANDS)
def test_a_bad_value_costs_one_line_and_exit_status_2(capsys, argv, says):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line: no usage block, no traceback
    assert says in err and "python -m eventloop" in err


@pytest.mark.parametrize("host", ["", "0", "0x0", "0.0.0.0", "0.0", "::", "::0", "0:0::0"])
def test_every_spelling_of_all_interfaces_is_recognised(host):
    assert means_every_interface(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "10.0.0.1", "127.0.0.2"])
def test_specific_addresses_are_not_all_interfaces(host):
    assert not means_every_interface(host)


def run_cli(*args: str, timeout: float = 20) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "eventloop", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_listening(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Ctrl-C to stop"):
            return
    raise AssertionError("the server never said it was listening")


def test_host_0_warns_like_0_0_0_0():
    process = run_cli("udp-echo", "--host", "0", "--duration", "0.2")
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "listens on every network interface" in err


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="Windows has no SIGTERM/SIGHUP to send")
@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", 1)])
def test_sigterm_and_sighup_stop_the_server_with_its_summary(signum):
    process = run_cli("tcp-echo", "--port", "0", "--duration", "60")
    try:
        wait_until_listening(process)
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"stopped ({signal.Signals(signum).name})" in out
    assert "served 0 connection(s)" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "options"),
    [("serve", ("time_port", "echo_port")), ("tcp-echo", ("port",))],
)
def test_servers_take_any_free_port_by_default_on_a_jupyterhub(monkeypatch, command, options):
    """On a hub the fixed ports collide between learners: there the default is 0."""
    from eventloop.cli import build_parser

    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    alone = build_parser().parse_args([command])
    assert all(getattr(alone, option) in (14000, 15000, 16000) for option in options)
    monkeypatch.setenv("JUPYTERHUB_USER", "ann")
    on_a_hub = build_parser().parse_args([command])
    assert [getattr(on_a_hub, option) for option in options] == [0] * len(options)


def test_two_learners_serve_at_once_on_a_jupyterhub():
    """The post's two servers, twice on one machine: each pair on free ports of its own."""
    import os

    env = {**os.environ, "JUPYTERHUB_USER": "ann"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "eventloop", "serve", "--duration", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        for _ in range(2)
    ]
    ports = []
    for run in runs:
        out, err = run.communicate(timeout=20)
        assert run.returncode == 0, err
        ports += [int(line.rsplit(":", 1)[1]) for line in out.splitlines() if "listening" in line]
    assert len(ports) == 4 and len(set(ports)) == 4, ports
    assert not {14000, 15000} & set(ports)
