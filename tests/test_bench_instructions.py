"""benchmarks/instructions.py: the echo rounds it counts are real echoes, and its arithmetic.

valgrind itself is not run here (a count takes about 10 s): the rounds run without it, and
the parsing and the table are checked on fixed numbers.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
_spec = importlib.util.spec_from_file_location("bench_instructions", BENCH / "instructions.py")
assert _spec is not None and _spec.loader is not None
instructions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(instructions)


@pytest.mark.parametrize("contender", list(instructions.CONTENDERS))
def test_each_round_echoes_every_byte_of_every_connection(contender: str) -> None:
    assert instructions.echo_rounds(contender, connections=3, rounds=5) == 3 * 5 * 1024


@pytest.mark.parametrize("contender", list(instructions.CONTENDERS))
def test_idle_connections_are_accepted_and_stay_quiet(contender: str) -> None:
    assert instructions.echo_rounds(contender, connections=2, rounds=3, idle=150) == 2 * 3 * 1024


@pytest.mark.parametrize("contender", list(instructions.CONTENDERS))
def test_each_udp_round_echoes_every_datagram_of_every_flow(contender: str) -> None:
    assert instructions.udp_rounds(contender, flows=3, rounds=5) == 3 * 5 * 1024


def test_udp_goes_to_the_child_and_idle_does_not_go_with_it() -> None:
    command = [
        sys.executable,
        str(BENCH / "instructions.py"),
        "--udp",
        "--child",
        "epoll",
        "2",
        "4",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(2 * 4 * 1024)]
    with pytest.raises(SystemExit):
        instructions.main(["--udp", "--idle", "10"])


def test_a_udp_table_counts_flows() -> None:
    table = instructions.markdown({20: {"epoll": 31_377.0, "asyncio": 32_182.0}}, 300, "", udp=True)
    assert "| flows | epoll | asyncio |" in table
    assert "| 20 | 31,377 (0.97x) | 32,182 (1.00x) |" in table
    assert "UDP echoes" in table and "one loop iteration per datagram" in table


def test_the_child_mode_prints_the_bytes_echoed() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "instructions.py"), "--child", "epoll", "2", "4"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(2 * 4 * 1024)]


def test_the_total_is_read_from_callgrinds_summary() -> None:
    output = "==41== Events    : Ir\n==41== Collected : 1,234,567\n==41==\n==41== I refs: 1,234,567"
    assert instructions.parse_collected(output) == 1_234_567
    with pytest.raises(RuntimeError, match="no 'Collected' line"):
        instructions.parse_collected("valgrind: command not found")


def test_the_table_gives_counts_and_ratios_to_asyncio() -> None:
    table = instructions.markdown(
        {10: {"epoll": 19_950.4, "asyncio": 19_765.0, "aio": 24_122.0}}, 1000, "a note."
    )
    assert "| connections | epoll | asyncio | aio |" in table
    assert "| 10 | 19,950 (1.01x) | 19,765 (1.00x) | 24,122 (1.22x) |" in table
    assert "a note." in table


def test_without_valgrind_it_says_so_and_counts_nothing(monkeypatch, capsys) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert instructions.main(["--connections", "1"]) == 2
    assert "valgrind is not installed" in capsys.readouterr().out
