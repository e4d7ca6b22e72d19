"""The benchmark harness: its --quick run produces a complete, honest report, and its rules hold.

No timing is asserted anywhere: the machine may be busy. What is checked is the structure
(every contender and every cell present, or skipped with a reason), that ratios are taken
against asyncio of the same cell of the same run, and the median / ratio / client-bound
rules on synthetic numbers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


run = load("run")
report = run.report

C_BUILDS = sys.platform.startswith("linux") and shutil.which("cc") is not None
"""Whether the compiled load generator can be built here (else the harness uses Python)."""
QUICK_CLIENT = "c" if C_BUILDS else "auto"


# --- the --quick run ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--client", QUICK_CLIENT,
         "--out", str(out)],
        capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (json_path,) = out.glob("bench-*-quick.json")
    (md_path,) = out.glob("bench-*-quick.md")
    assert json_path.stem == md_path.stem
    return json.loads(json_path.read_text()), md_path.read_text(), done.stdout


@pytest.mark.slow
def test_quick_run_has_every_cell_and_contender(quick: tuple[dict, str, str]) -> None:
    doc, _, _ = quick
    assert doc["quick"] is True
    assert [c["id"] for c in doc["cells"]] == [cell.id for cell in run.CELLS]
    names = [c.name for c in run.CONTENDERS]
    assert [c["name"] for c in doc["contenders"]] == names
    for cell in doc["cells"]:
        assert list(cell["results"]) == names, cell["id"]
        for name, result in cell["results"].items():
            assert result["status"] in ("measured", "skipped", "failed"), (cell["id"], name)
            if result["status"] == "measured":
                assert result["runs"] and result["repetitions"] == len(result["runs"])
                assert result["echoes_per_s"] > 0, (cell["id"], name)  # it echoed at all
                assert result["bound"] in ("server", "client", "latency", "unknown")
            else:
                assert result["reason"], (cell["id"], name)
    ran = {c["id"] for c in doc["cells"]
           if not all(report.not_selected(r) for r in c["results"].values())}
    assert ran == run.QUICK_CELLS


@pytest.mark.slow
def test_quick_run_ratios_are_against_asyncio_of_the_same_cell(quick: tuple) -> None:
    doc, _, _ = quick
    assert doc["config"]["baseline"] == "asyncio"
    for cell in doc["cells"]:
        base = cell["results"]["asyncio"]
        for result in cell["results"].values():
            if result["status"] != "measured":
                continue
            if result["ratio"] is None:
                assert result["ratio_note"]  # says why: client-bound, baseline client-bound, ...
                continue
            assert base["bound"] == result["bound"] == "server"
            expected = result["echoes_per_s"] / base["echoes_per_s"]
            assert result["ratio"] == pytest.approx(expected, rel=1e-4)  # saved to 6 digits


@pytest.mark.slow
def test_quick_run_records_machine_and_asyncio_malloc_variants(quick: tuple) -> None:
    doc, _, _ = quick
    machine = doc["machine"]
    for key in ("cores", "python", "platform", "implementation", "libc", "loadavg_before",
                "loadavg_after"):
        assert key in machine, key
    malloc = {c["name"]: c["malloc"] for c in doc["contenders"]}
    assert malloc["asyncio"] == "tuned" and malloc["asyncio-stock"] == "stock"
    assert [t["id"] for t in doc["targets"]] == [t["id"] for t in report.TARGETS]
    for target in doc["targets"]:
        assert target["status"] in ("met", "missed", "undecided")


@pytest.mark.slow
def test_quick_run_markdown_table_is_well_formed(quick: tuple[dict, str, str]) -> None:
    doc, markdown, stdout = quick
    assert markdown.strip() in stdout  # the table is printed too
    names = [c["name"] for c in doc["contenders"]]
    header = "| cell | " + " | ".join(names) + " |"
    assert markdown.count(header) == 3  # throughput, CPU, and CPU per echo
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    for row in rows:
        assert row.endswith(" |")
    for cell in doc["cells"]:
        row = next(r for r in rows if r.startswith(f"| {cell['title']} |"))
        assert row.count("|") == len(names) + 2
    for target in report.TARGETS:
        assert target["text"] in markdown


@pytest.mark.slow
def test_quick_run_says_which_load_generator_ran(quick: tuple[dict, str, str]) -> None:
    doc, markdown, _ = quick
    config = doc["config"]
    assert config["client"] == ("c" if C_BUILDS else "python")
    assert report.load_generator(config) in markdown
    assert ("echo_client.c" if C_BUILDS else "clients.py") in markdown
    for cell in doc["cells"]:
        for result in cell["results"].values():
            for one in result.get("runs", []):  # the generator's own CPU, whichever ran
                assert one.get("error") or one["client_cpu"] > 0, cell["id"]


@pytest.mark.slow
def test_quick_run_with_the_python_load_generator(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--client", "python",
         "--only", "epoll,asyncio", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (json_path,) = tmp_path.glob("bench-*-quick.json")
    doc = json.loads(json_path.read_text())
    assert doc["config"]["client"] == "python"
    assert "Python load generator: benchmarks/clients.py" in done.stdout
    measured = [r for c in doc["cells"] for r in c["results"].values()
                if r["status"] == "measured"]
    assert len(measured) == 2 * len(run.QUICK_CELLS)
    assert all(r["echoes_per_s"] > 0 and r["client_cpu"] > 0 for r in measured)


# --- the load generators: the compiled one keeps the Python one's contract ----------------------


@pytest.fixture(scope="module")
def c_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """echo_client.c compiled from scratch, as the harness does on first use."""
    if not C_BUILDS:
        pytest.skip("no C compiler (cc) or no epoll here: the harness falls back to Python")
    build_dir = tmp_path_factory.mktemp("build")
    binary, detail = run.build_c_client(build_dir=build_dir)
    assert binary is not None, detail
    assert "-O2" in detail
    assert run.build_c_client(build_dir=build_dir)[0] == binary  # cached, not rebuilt
    return binary


class TCPEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


class UDPEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data, self.client_address)


@contextlib.contextmanager
def echo_server(proto: str) -> Iterator[int]:
    """A tiny echo server on 127.0.0.1, port 0, in threads of this process: its port."""
    server: socketserver.BaseServer
    if proto == "tcp":
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), TCPEcho)
    else:
        server = socketserver.UDPServer(("127.0.0.1", 0), UDPEcho)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]  # type: ignore[index]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def drive(program: tuple[str, ...], proto: str, port: int) -> dict:
    """One 0.3 s cell, driven as run.py drives it: READY, GO <t0>, one JSON line."""
    child = run.Child.start(f"{proto} client", [
        "echo", "--proto", proto, "--port", str(port), "--connections", "4", "--size", "1024",
        "--warmup", "0.1", "--duration", "0.3", "--setup-timeout", "10",
    ], program=program)
    try:
        assert child.expect(("READY",), timeout=15) == "READY"
        child.send(f"GO {time.monotonic() + 0.05!r}\n")
        return json.loads(child.expect(("{",), timeout=15))
    finally:
        child.stop()


@pytest.mark.parametrize("proto", ["tcp", "udp"])
@pytest.mark.parametrize("kind", ["c", "python"])
def test_both_load_generators_keep_one_contract(
    kind: str, proto: str, request: pytest.FixtureRequest
) -> None:
    if kind == "c":
        program: tuple[str, ...] = (str(request.getfixturevalue("c_client")),)
    else:
        program = (sys.executable, str(BENCH / "clients.py"))
    with echo_server(proto) as port:
        result = drive(program, proto, port)
    assert list(result) == ["echoes", "bytes", "cpu", "lost"]
    assert result["echoes"] > 0
    assert result["bytes"] == 2 * result["echoes"] * 1024
    assert result["cpu"] > 0  # its own CPU time in the window: run.py reports it
    if proto == "tcp":
        assert result["lost"] == 0


def test_c_client_stops_with_a_message_when_nobody_listens(c_client: Path) -> None:
    with socket.socket() as bound:  # bound, not listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        done = subprocess.run(
            [str(c_client), "echo", "--port", str(bound.getsockname()[1]), "--connections",
             "3", "--setup-timeout", "5"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
        )
    assert done.returncode == 1
    assert done.stdout == ""  # never READY
    assert done.stderr.startswith("echo_client: ") and "refused" in done.stderr


def test_without_a_compiler_the_harness_falls_back_to_python() -> None:
    fallback = run.load_generator("auto", compiler="no-such-cc")
    assert fallback.kind == "python"
    assert fallback.command[-1].endswith("clients.py")
    assert "C client is not available" in fallback.detail and "no-such-cc" in fallback.detail
    with pytest.raises(SystemExit, match="--client c"):
        run.load_generator("c", compiler="no-such-cc")
    assert run.load_generator("python").kind == "python"
    assert run.parse_args([]).client == "auto"


def test_reports_saved_before_the_choice_say_python() -> None:
    assert report.load_generator({}) == "Python load generator: benchmarks/clients.py"
    assert report.load_generator({"client": "c", "client_detail": "x.c"}).startswith(
        "compiled C load generator: x.c")


# --- the rules, on synthetic numbers ------------------------------------------------------------


def repeated(echoes_per_s: list[float], server_cpu: float = 0.99) -> dict:
    """A measured result with one run per repetition, as run_cell saves it."""
    runs = [{"echoes_per_s": e, "server_cpu": server_cpu, "client_cpu": 0.8, "echoes": int(e),
             "waits": int(e) // 2, "cpu_seconds": 1.0} for e in echoes_per_s]
    return {"status": "measured", "reason": None, "runs": runs, **report.summarize(runs)}


def synthetic(echoes_per_s: float, server_cpu: float) -> dict:
    """A measured result of a single repetition."""
    return repeated([echoes_per_s], server_cpu)


def test_median_ignores_unknown_values() -> None:
    assert report.median([3.0, None, 1.0, 2.0]) == 2.0
    assert report.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert report.median([None, None]) is None


def test_summarize_takes_medians_and_skips_failed_runs() -> None:
    def one(echoes: int, cpu: float, waits: int) -> dict:
        return {"echoes_per_s": float(echoes), "server_cpu": cpu, "echoes": echoes,
                "waits": waits, "cpu_seconds": 1.0}

    runs = [one(100, 0.95, 50), one(300, 0.99, 100), one(200, 0.97, 100),
            {"error": "client timed out", "echoes_per_s": None}]
    summary = report.summarize(runs)
    assert summary["echoes_per_s"] == 200.0
    assert summary["server_cpu"] == 0.97
    assert summary["bound"] == "server"
    assert summary["repetitions"] == 3
    assert summary["cpu_per_wait"] == pytest.approx(0.01)  # median of 1/50, 1/100, 1/100
    assert summary["echoes_per_wait"] == pytest.approx(2.0)


def test_a_server_below_the_threshold_is_client_or_latency_bound() -> None:
    assert report.bound(0.95) == "server"
    assert report.bound(report.SERVER_BOUND_CPU, idle_cpu=1.0) == "server"
    assert report.bound(0.6) == "client"
    assert report.bound(0.6, idle_cpu=0.1) == "client"  # the rest of the machine was busy
    assert report.bound(0.6, idle_cpu=1.2) == "latency"  # nobody was busy: everyone waited
    assert report.bound(None) == "unknown"


def test_summarize_tells_a_starved_server_from_a_waiting_one() -> None:
    def one(server: float, clients: float, others: float) -> dict:
        return {"echoes_per_s": 1000.0, "server_cpu": server, "client_cpu": clients,
                "other_cpu": others, "echoes": 1000, "waits": 100, "cpu_seconds": server}

    starved = report.summarize([one(0.5, 0.5, 0.9)] * 3, cores=2)
    assert starved["bound"] == "client" and starved["idle_cpu"] == pytest.approx(0.1)
    convoy = report.summarize([one(0.7, 0.06, 0.0)] * 3, cores=2)  # 1000 threads on the GIL
    assert convoy["bound"] == "latency"
    convoy["status"] = "measured"
    assert report.ratio(convoy, synthetic(50_000, 0.99)) == (None, "latency-bound")


def test_ratio_only_between_server_bound_medians() -> None:
    base = synthetic(40_000, 0.98)
    assert report.ratio(synthetic(30_000, 0.97), base) == (pytest.approx(0.75), "")
    assert report.ratio(synthetic(30_000, 0.5), base) == (None, "client-bound")
    assert report.ratio(synthetic(30_000, 0.97), synthetic(40_000, 0.4)) == (
        None, "baseline client-bound")
    assert report.ratio({"status": "skipped", "reason": "x"}, base) == (None, "not measured")
    assert report.ratio(synthetic(30_000, 0.97), None) == (None, "baseline not measured")


def test_add_ratios_uses_the_same_cell_baseline() -> None:
    cell = {"results": {"asyncio": synthetic(50_000, 0.99), "epoll": synthetic(55_000, 0.99),
                        "select": synthetic(20_000, 0.3),
                        "uvloop": {"status": "skipped", "reason": "not installed"}}}
    report.add_ratios(cell)
    results = cell["results"]
    assert results["asyncio"]["ratio"] == pytest.approx(1.0)
    assert results["epoll"]["ratio"] == pytest.approx(1.1)
    assert results["select"]["ratio"] is None
    assert results["select"]["ratio_note"] == "client-bound"
    assert "ratio" not in results["uvloop"]
    assert report.throughput_cell(results["select"]) == "20.0k/s (client-bound)"
    assert report.throughput_cell(results["epoll"]) == "55.0k/s (1.10x)"
    assert report.throughput_cell(results["uvloop"]) == "skipped"


def tcp_cell(connections: int, **results: dict) -> dict:
    return {"id": f"tcp-{connections}", "workload": "tcp", "connections": connections,
            "results": results}


def test_targets_met_missed_and_undecided() -> None:
    target = report.TARGETS[0]  # epoll >= 1.0x asyncio in every TCP cell
    base = synthetic(50_000, 0.99)
    good = [tcp_cell(10, asyncio=base, epoll=synthetic(52_000, 0.99)),
            tcp_cell(100, asyncio=base, epoll=synthetic(51_000, 0.99))]
    assert report.evaluate_target(target, good)["status"] == "met"
    bad = [*good, tcp_cell(1000, asyncio=base, epoll=synthetic(45_000, 0.99))]
    verdict = report.evaluate_target(target, bad)
    assert verdict["status"] == "missed" and verdict["value"] == pytest.approx(0.9)
    starved = [*good, tcp_cell(1000, asyncio=base, epoll=synthetic(45_000, 0.5))]
    verdict = report.evaluate_target(target, starved)
    assert verdict["status"] == "undecided"
    assert "client-bound: tcp-1000" in verdict["detail"]


def test_select_target_looks_only_at_100_connections() -> None:
    target = next(t for t in report.TARGETS if t["id"] == "select-tcp-100")
    base = synthetic(50_000, 0.99)
    cells = [tcp_cell(10, asyncio=base, select=synthetic(10_000, 0.99)),
             tcp_cell(100, asyncio=base, select=synthetic(46_000, 0.99))]
    verdict = report.evaluate_target(target, cells)
    assert verdict["status"] == "met" and verdict["value"] == pytest.approx(0.92)


def test_idle_target_compares_cost_per_iteration() -> None:
    target = next(t for t in report.TARGETS if t["id"] == "epoll-idle")

    def idle(k: int, cpu_per_wait: float) -> dict:
        result = synthetic(40_000, 0.99)
        result["cpu_per_wait"] = cpu_per_wait
        return {"id": f"idle-{k}", "workload": "idle", "idle": k, "results": {"epoll": result}}

    flat = report.evaluate_target(target, [idle(0, 20e-6), idle(10000, 21e-6)])
    assert flat["status"] == "met" and flat["value"] == pytest.approx(1.05)
    steep = report.evaluate_target(target, [idle(0, 20e-6), idle(10000, 60e-6)])
    assert steep["status"] == "missed"
    missing = report.evaluate_target(target, [idle(0, 20e-6)])
    assert missing["status"] == "undecided"


BASE_RUNS = [50_000.0, 60_000.0, 40_000.0, 55_000.0, 45_000.0, 52_000.0, 48_000.0]


def test_add_ratios_gives_paired_intervals_only_where_a_ratio_is_quoted() -> None:
    faster = [b * f for b, f in zip(BASE_RUNS, (1.10, 1.12, 1.08, 1.15, 1.09, 1.11, 1.13))]
    cell = {"results": {"asyncio": repeated(BASE_RUNS), "epoll": repeated(faster),
                        "select": repeated(faster, server_cpu=0.5),
                        "few": repeated(faster[:5])}}
    report.add_ratios(cell)
    results = cell["results"]
    epoll = report.paired(results["epoll"])
    assert epoll is not None
    assert (epoll.median, epoll.low, epoll.high) == pytest.approx((1.11, 1.08, 1.15))
    assert report.paired_cell(results["epoll"]) == "1.11x [1.08-1.15]"
    assert report.paired(results["asyncio"]) is None  # the baseline against itself says nothing
    assert report.paired_cell(results["select"]) == "-"  # client-bound: no ratio, no interval
    assert report.paired_cell(results["few"]) == "too few repetitions"


def test_a_target_met_beyond_noise_only_when_every_interval_clears_it() -> None:
    target = report.TARGETS[0]  # epoll >= 1.0x asyncio in every TCP cell
    base = repeated(BASE_RUNS)
    clear = repeated([b * 1.1 for b in BASE_RUNS])
    # the right median ratio (1.02x), but one pair of seven below 1.0: the interval spans it
    noisy = repeated([b * f for b, f in zip(BASE_RUNS, (1.02, 0.85, 1.3, 1.01, 1.2, 0.95, 1.1))])
    sure = report.evaluate_target(target, [tcp_cell(10, asyncio=base, epoll=clear)])
    assert (sure["status"], sure["noise"]) == ("met", "yes")
    unsure = report.evaluate_target(target, [tcp_cell(10, asyncio=base, epoll=clear),
                                             tcp_cell(100, asyncio=base, epoll=noisy)])
    assert unsure["status"] == "met"
    assert unsure["noise"] == "no, within noise: tcp-100 1.02x [0.85-1.30]"


def test_a_target_missed_beyond_noise_only_when_the_interval_is_below_it() -> None:
    target = report.TARGETS[0]
    base = repeated(BASE_RUNS)
    slow = repeated([b * 0.8 for b in BASE_RUNS])
    close = repeated([b * f for b, f in zip(BASE_RUNS, (0.97, 1.04, 0.9, 0.98, 1.1, 0.96, 0.99))])
    missed = report.evaluate_target(target, [tcp_cell(10, asyncio=base, epoll=slow)])
    assert (missed["status"], missed["noise"]) == ("missed", "yes")
    maybe = report.evaluate_target(target, [tcp_cell(10, asyncio=base, epoll=close)])
    assert maybe["status"] == "missed" and maybe["noise"].startswith("no, within noise: tcp-10")
    short = report.evaluate_target(target, [tcp_cell(10, asyncio=synthetic(50_000, 0.99),
                                                      epoll=synthetic(40_000, 0.99))])
    assert short["noise"] == "unknown: fewer than 6 repetitions"
    mixed = report.evaluate_target(target, [tcp_cell(10, asyncio=base, epoll=slow),
                                            tcp_cell(100, asyncio=synthetic(50_000, 0.99),
                                                     epoll=synthetic(40_000, 0.99))])
    assert mixed["noise"] == "no, within noise: tcp-100 (fewer than 6 repetitions)"


def test_markdown_shows_how_sure_each_ratio_is() -> None:
    cell = {"id": "tcp-10", "title": "TCP 10", "workload": "tcp", "connections": 10,
            "results": {"epoll": repeated([b * 1.1 for b in BASE_RUNS]),
                        "asyncio": repeated(BASE_RUNS)}}
    report.add_ratios(cell)
    doc = {"created": "now", "machine": {"cores": 2, "platform": "p", "implementation": "C",
                                         "python": "3", "libc": "l", "loadavg_before": [],
                                         "loadavg_after": []},
           "config": {"client_processes": 2, "repetitions": 7, "duration": 1.0, "warmup": 0.3,
                      "baseline": "asyncio", "server_bound_cpu": 0.9, "order": "alternating",
                      "pinned": {"server": [0], "clients": [1]}},
           "contenders": [{"name": "epoll"}, {"name": "asyncio"}], "cells": [cell],
           "targets": report.evaluate_targets([cell])}
    text = report.markdown(doc)
    assert "| TCP 10 | 1.10x [1.10-1.10] | - |" in text
    assert "server pinned to core 0, clients to core(s) 1" in text
    assert "order reversed every other one" in text
    assert "| course's epoll loop >= 1.0x asyncio in every TCP cell | met | 1.10 | yes |" in text


def test_contenders_take_turns_in_alternating_order() -> None:
    servers = {"a": 1, "b": 2, "c": 3}
    assert [name for name, _ in run.in_turn(servers, 0)] == ["a", "b", "c"]
    assert [name for name, _ in run.in_turn(servers, 1)] == ["c", "b", "a"]
    assert [name for name, _ in run.in_turn(servers, 2)] == ["a", "b", "c"]


def test_pin_puts_the_server_on_one_core_and_the_clients_on_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run.pinning(False) == (None, None)
    monkeypatch.setattr(run.os, "sched_setaffinity", lambda pid, cpus: None, raising=False)
    monkeypatch.setattr(run.os, "sched_getaffinity", lambda pid: {2, 3, 5}, raising=False)
    assert run.pinning(True) == ({2}, {3, 5})
    monkeypatch.setattr(run.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    with pytest.raises(SystemExit, match="two cores"):
        run.pinning(True)
    monkeypatch.delattr(run.os, "sched_setaffinity", raising=False)
    with pytest.raises(SystemExit, match="Linux"):
        run.pinning(True)


def test_pinning_a_child_that_has_already_exited_is_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def gone(pid: int, cpus: set[int]) -> None:
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(run.os, "sched_setaffinity", gone, raising=False)
    child = run.Child.start("exits at once", ["-c", "pass"])
    try:
        child.popen.wait(timeout=10)
        run.pin(child, {0})  # a server that said SKIP and went: nothing to pin
    finally:
        child.stop()


def test_split_spreads_connections_over_client_processes() -> None:
    assert run.split(10, 2) == [5, 5]
    assert run.split(1001, 2) == [501, 500]
    assert run.split(1, 4) == [1]


def test_select_and_threads_are_skipped_where_they_cannot_run() -> None:
    contenders = {c.name: c for c in run.CONTENDERS}
    huge = run.Cell("idle", 10, 1024, 10000)
    assert "FD_SETSIZE" in run.static_skip(contenders["select"], huge)
    assert "threads" in run.static_skip(contenders["threads"], huge)
    assert run.static_skip(contenders["epoll"], huge) is None
    assert run.static_skip(contenders["select"], run.Cell("tcp", 100, 1024)) is None


def test_stock_asyncio_gets_no_malloc_settings() -> None:
    contenders = {c.name: c for c in run.CONTENDERS}
    assert contenders["asyncio"].env()["MALLOC_MMAP_THRESHOLD_"] == "1048576"
    assert "MALLOC_MMAP_THRESHOLD_" not in contenders["asyncio-stock"].env()
    assert "MALLOC_TRIM_THRESHOLD_" not in contenders["asyncio-stock"].env()


def test_a_child_that_exits_fails_every_later_read_at_once() -> None:
    child = run.Child.start("short-lived", ["-c", "print('READY 1'); raise SystemExit(3)"])
    try:
        assert child.expect(("READY",), timeout=20) == "READY 1"
        for _ in range(2):
            with pytest.raises(RuntimeError, match="short-lived exited"):
                child.expect(("STATS",), timeout=20)
    finally:
        child.stop()
    assert child.popen.returncode == 3


def test_a_server_that_cannot_run_is_reported_skipped_with_its_reason() -> None:
    streams = next(c for c in run.CONTENDERS if c.name == "asyncio-streams")
    running, missing = run.start_servers([streams], "udp")
    assert running == {}
    assert missing == {"asyncio-streams": {"status": "skipped",
                                           "reason": "asyncio streams are TCP only"}}


def test_unknown_cells_and_contenders_are_refused() -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--cells", "tcp-7x1KiB"])
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "trio"])
    assert run.parse_args(["--quick"]).repetitions == 1
