"""Echo benchmarks: the course's loops against asyncio, uvloop and a thread per connection.

Usage::

    python benchmarks/run.py            # every cell, 3 repetitions: a few minutes
    python benchmarks/run.py --quick    # a few cells, 1 repetition: seconds (CI)
    python benchmarks/run.py --help     # durations, repetitions, client processes, ...

How it measures (see ``benchmarks/README.md`` for why):

* Each contender's server runs in its own process (``servers.py``) on
  ``127.0.0.1`` port 0. The load comes from separate client processes running a
  closed loop, one message in flight per connection: ``echo_client.c``, compiled
  on first use with ``cc -O2`` into ``benchmarks/.build/``, or ``clients.py``
  when there is no C compiler (``--client``; the report says which ran).
* Every contender of a cell runs in the same invocation, interleaved, in an
  order reversed every other repetition (A B C C B A A B C ...). A cell's number
  is the median; ratios are to tuned asyncio in the same cell of the same run.
  With 6 repetitions or more, the report also gives the median of the paired
  ratios (repetition i against asyncio's repetition i) with a 95% interval
  (``intervals.py``): whether a difference is larger than the run's noise.
* Each run reads the server's CPU time and loop iterations at the start and the
  end of the window (``SIGUSR1``), and the clients' CPU time. A server below
  90% of a core was starved by its clients: that cell says "client-bound"
  (or "latency-bound" when the machine had CPU to spare) instead of a ratio.
* ``--pin`` (Linux) keeps the server on one core and the clients on the others,
  so that no client takes the server's core and the scheduler never moves it.
* Everything is bounded: fixed durations, timeouts on every wait, every process
  terminated in ``finally``.

Writes ``bench-<UTC time>[-quick].json`` and ``.md`` into ``--out`` (default
``benchmarks/results``) and prints the markdown. Standard library only; uvloop is
measured when it is installed (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (a sibling module, importable however this script is started)

TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "4194304"}
"""glibc settings that stop asyncio's recv(262144) buffer being mmap-ed per read (#85451)."""

FD_SETSIZE = 1024
MAX_THREADS = 2000
"""The thread-per-connection server is not run past this many threads (pid limits, shared box)."""

C_CLIENT = HERE / "echo_client.c"
BUILD_DIR = HERE / ".build"
"""Where the compiled C client is cached (git-ignored), one binary per version of its source."""


@dataclass(frozen=True)
class Contender:
    name: str
    description: str
    tuned_malloc: bool = True

    def env(self) -> dict[str, str]:
        """The server's environment: tuned malloc for all but stock asyncio, which gets none."""
        env = {k: v for k, v in os.environ.items() if k not in TUNED_MALLOC}
        if self.tuned_malloc:
            env |= TUNED_MALLOC
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
        return env


CONTENDERS = [
    Contender("select", "the post's select loop: ch 04 event_loop + ch 05 TCPServer"),
    Contender("epoll", "the course's epoll loop: ch 09 SelectorLoop (persistent registration)"),
    Contender("asyncio", "asyncio Protocol, malloc thresholds fixed: the fair baseline"),
    Contender("asyncio-stock", "asyncio Protocol, stock glibc malloc (CPython #85451)", False),
    Contender("asyncio-streams", "asyncio streams: reader.read, writer.write, drain"),
    Contender("aio", "the same asyncio Protocol on the course's loop (ch 11 eventloop.aio)"),
    Contender("aio-streams", "asyncio streams on the course's loop (ch 11 eventloop.aio)"),
    Contender("uvloop", "uvloop Protocol (when installed)"),
    Contender("threads", "a thread per connection, blocking sockets (UDP: one thread)"),
]


@dataclass(frozen=True)
class Cell:
    """One workload: echo over ``connections`` (TCP) or flows (UDP) of ``size``-byte messages."""

    workload: str  # "tcp", "udp" or "idle" (TCP echo on 10 connections, plus idle ones)
    connections: int
    size: int
    idle: int = 0

    @property
    def id(self) -> str:
        if self.workload == "idle":
            return f"idle-{self.connections}+{self.idle}"
        return f"{self.workload}-{self.connections}x{self.size // 1024}KiB"

    @property
    def title(self) -> str:
        if self.workload == "idle":
            return f"{self.connections} active + {self.idle:,} idle, 1 KiB"
        unit = "conn" if self.workload == "tcp" else "flows"
        return f"{self.workload.upper()} {self.connections} {unit} x {self.size // 1024} KiB"

    @property
    def proto(self) -> str:
        return "udp" if self.workload == "udp" else "tcp"

    @property
    def descriptors(self) -> int:
        """About how many descriptors the server needs (for select's FD_SETSIZE)."""
        return self.connections + self.idle + 10


CELLS = [
    *(Cell("tcp", n, size) for n in (10, 100, 1000) for size in (1024, 10240)),
    Cell("udp", 20, 1024),
    *(Cell("idle", 10, 1024, k) for k in (0, 100, 1000, 10000)),
]
QUICK_CELLS = {"tcp-100x1KiB", "udp-20x1KiB", "idle-10+100"}


# --- the load generator -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadGenerator:
    """The program that runs the closed loop: ``command`` followed by ``echo --port ...``."""

    kind: str  # "c" or "python"
    command: tuple[str, ...]
    detail: str  # how it was built, or why the C client is not used


def build_c_client(compiler: str = "cc", build_dir: Path = BUILD_DIR) -> tuple[Path | None, str]:
    """Compile ``echo_client.c`` once per version of its source: the binary, or why there is none.

    A Python load generator spends about as much CPU per echo as the servers it measures;
    on 2 cores it starves them. The compiled one does the same work for a fraction of that.
    """
    if not sys.platform.startswith("linux"):
        return None, f"the C client needs epoll (Linux); this is {sys.platform}"
    found = shutil.which(compiler)
    if found is None:
        return None, f"no C compiler ({compiler}) on this machine"
    digest = hashlib.sha256(C_CLIENT.read_bytes()).hexdigest()[:12]
    binary = build_dir / f"echo_client-{digest}"
    how = f"{compiler} -O2, {compiler_version(found)}"
    if binary.exists():
        return binary, how
    build_dir.mkdir(parents=True, exist_ok=True)
    partial = build_dir / f".{binary.name}.{os.getpid()}.tmp"
    try:
        done = subprocess.run([found, "-O2", "-o", str(partial), str(C_CLIENT)],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        partial.unlink(missing_ok=True)
        return None, f"{compiler} failed: {error}"
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        return None, f"{compiler} failed: {lines[0][:200]}"
    os.replace(partial, binary)  # atomic: two runs building at once both get a whole binary
    return binary, how


def compiler_version(compiler: str) -> str:
    """The first line of ``cc --version`` (which compiler ``cc`` is), or ``unknown version``."""
    try:
        done = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown version"
    return (done.stdout.strip().splitlines() or ["unknown version"])[0]


def load_generator(choice: str, compiler: str = "cc") -> LoadGenerator:
    """The load generator for ``--client c|python|auto``: auto is C when it builds."""
    python = LoadGenerator("python", (sys.executable, str(HERE / "clients.py")),
                           "benchmarks/clients.py")
    if choice == "python":
        return python
    binary, detail = build_c_client(compiler)
    if binary is not None:
        return LoadGenerator("c", (str(binary),), f"benchmarks/echo_client.c, {detail}")
    if choice == "c":
        raise SystemExit(f"--client c: {detail}")
    return LoadGenerator("python", python.command,
                         f"benchmarks/clients.py (the C client is not available: {detail})")


@dataclass
class Config:
    duration: float
    warmup: float
    repetitions: int
    clients: int
    quick: bool
    generator: LoadGenerator
    setup_timeout: float = 60.0
    server_cpus: set[int] | None = None  # --pin: the server's core; None: wherever the OS likes
    client_cpus: set[int] | None = None  # --pin: the clients' cores


# --- child processes ---------------------------------------------------------------------------


@dataclass
class Child:
    """A child process whose stdout lines arrive on a queue, so every read has a timeout."""

    name: str
    popen: subprocess.Popen[str]
    stderr: IO[bytes]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @classmethod
    def start(
        cls, name: str, argv: list[str], env: dict[str, str] | None = None,
        program: tuple[str, ...] = (),
    ) -> Child:
        """Run ``program`` (default: this Python) with ``argv``."""
        stderr = tempfile.TemporaryFile()
        popen = subprocess.Popen(
            [*(program or (sys.executable,)), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
            cwd=HERE.parent,
        )
        child = cls(name, popen, stderr)
        threading.Thread(target=child._read, daemon=True).start()
        return child

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, prefixes: tuple[str, ...], timeout: float) -> str:
        """The next line starting with one of ``prefixes``; fail on exit or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                waited = f"no {' or '.join(prefixes)} line within {timeout:.0f} s"
                raise TimeoutError(f"{self.name}: {waited}") from None
            if line is None:
                self.lines.put(None)  # every later read fails at once too
                raise RuntimeError(f"{self.name} exited ({self.popen.poll()}): {self.error_tail()}")
            if line.startswith(prefixes):
                return line

    def send(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text)
        self.popen.stdin.flush()

    def error_tail(self, limit: int = 300) -> str:
        """The last line of the child's error output: the exception, for a traceback."""
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1][-limit:] if lines else "(no error output)"

    def stop(self) -> None:
        """Terminate, then kill if it does not go; close every pipe."""
        with contextlib.suppress(OSError):
            if self.popen.stdin is not None:
                self.popen.stdin.close()
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.stderr.close()


@dataclass
class Server:
    contender: Contender
    child: Child
    port: int

    def stats(self) -> tuple[int | None, float, float, float | None]:
        """Loop iterations and CPU seconds so far (SIGUSR1), when we asked, and the
        machine's busy time then (sampled when asking: a starved server may answer late)."""
        self.child.popen.send_signal(signal.SIGUSR1)
        asked, busy = time.monotonic(), machine_busy()
        words = self.child.expect(("STATS",), timeout=5).split()
        waits = None if words[1] == "-" else int(words[1])
        return waits, float(words[2]), asked, busy


def start_servers(
    contenders: list[Contender], proto: str, cpus: set[int] | None = None
) -> tuple[dict[str, Server], dict]:
    """Start every server at once; return the running ones and the reasons the others are not."""
    children = {
        c.name: Child.start(f"{c.name} server", [str(HERE / "servers.py"), c.name, proto], c.env())
        for c in contenders
    }
    for child in children.values():
        pin(child, cpus)
    running: dict[str, Server] = {}
    missing: dict[str, dict[str, Any]] = {}
    for contender in contenders:
        child = children[contender.name]
        try:
            line = child.expect(("READY", "SKIP"), timeout=30)
        except (TimeoutError, RuntimeError) as error:
            missing[contender.name] = {"status": "failed", "reason": str(error)}
            child.stop()
            continue
        if line.startswith("SKIP"):
            missing[contender.name] = {"status": "skipped", "reason": line[5:]}
            child.stop()
        else:
            running[contender.name] = Server(contender, child, int(line.split()[1]))
    return running, missing


# --- one measurement ----------------------------------------------------------------------------


def pin(child: Child, cpus: set[int] | None) -> None:
    """Keep ``child`` on ``cpus`` (``--pin``); it has only just started, before any measuring.

    A child that has already exited (a server that cannot run here says SKIP and
    goes) needs no core: its exit is reported where its output is read.
    """
    if cpus:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(child.popen.pid, cpus)


def pinning(wanted: bool) -> tuple[set[int] | None, set[int] | None]:
    """``--pin``: the server on the first usable core, every client on the others.

    Then no client ever takes the server's core from it, and the scheduler never moves
    the server: the server can keep its core busy, and what it does is all it measures.
    Linux only (``os.sched_setaffinity``), with two cores at least.
    """
    if not wanted:
        return None, None
    if not hasattr(os, "sched_setaffinity"):
        raise SystemExit("--pin needs os.sched_setaffinity (Linux); run without it here")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit(f"--pin needs two cores at least; this process may use {len(cores)}")
    return {cores[0]}, set(cores[1:])


def split(total: int, parts: int) -> list[int]:
    """``total`` connections over at most ``parts`` client processes, none empty."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def measure(server: Server, cell: Cell, config: Config) -> dict[str, Any]:
    """One run: idle connections (if any), clients ready, then a timed window."""
    script = str(HERE / "clients.py")
    common = ["--port", str(server.port), "--setup-timeout", str(config.setup_timeout)]
    helpers: list[Child] = []
    try:
        if cell.idle:
            idle = Child.start("idle client", [script, "idle", *common,
                                               "--connections", str(cell.idle)])
            helpers.append(idle)
            pin(idle, config.client_cpus)
            idle.expect(("READY",), config.setup_timeout + 5)
        clients = []
        for count in split(cell.connections, config.clients):
            clients.append(Child.start(f"{config.generator.kind} echo client", [
                "echo", *common, "--proto", cell.proto, "--connections", str(count),
                "--size", str(cell.size), "--warmup", str(config.warmup),
                "--duration", str(config.duration),
            ], program=config.generator.command))
            helpers.append(clients[-1])
            pin(clients[-1], config.client_cpus)
        for client in clients:
            client.expect(("READY",), config.setup_timeout + 5)
        t0 = time.monotonic() + 0.05
        for client in clients:
            client.send(f"GO {t0!r}\n")
        sleep_until(t0 + config.warmup)
        waits0, cpu0, asked0, busy0 = server.stats()
        sleep_until(t0 + config.warmup + config.duration)
        waits1, cpu1, asked1, busy1 = server.stats()
        outcomes = [json.loads(c.expect(("{",), config.duration + 30)) for c in clients]
    except (TimeoutError, RuntimeError, ValueError, OSError) as error:
        return {"error": str(error), "echoes_per_s": None}
    finally:
        for helper in helpers:
            helper.stop()
    echoes = sum(o["echoes"] for o in outcomes)
    server_cpu = (cpu1 - cpu0) / (asked1 - asked0)
    client_cpu = sum(o["cpu"] for o in outcomes) / config.duration
    other_cpu = None
    if busy0 is not None and busy1 is not None:
        other_cpu = max(0.0, (busy1 - busy0) / (asked1 - asked0) - server_cpu - client_cpu)
    return {
        "echoes": echoes,
        "echoes_per_s": echoes / config.duration,
        "bytes_per_s": sum(o["bytes"] for o in outcomes) / config.duration,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "other_cpu": other_cpu,
        "cpu_seconds": cpu1 - cpu0,
        "waits": None if waits0 is None or waits1 is None else waits1 - waits0,
        "lost": sum(o["lost"] for o in outcomes),
    }


def machine_busy() -> float | None:
    """CPU seconds all cores have spent busy since boot (Linux ``/proc/stat``), else None.

    Busy time not used by the server or the clients is other load on the machine:
    the report shows it, so a reader can tell a starved server from a slow one.
    """
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in first[1:8])
    # Not steal: time the hypervisor gave to other machines is not load on this one.
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def sleep_until(when: float) -> None:
    time.sleep(max(0.0, when - time.monotonic()))


# --- a cell, and the whole run ------------------------------------------------------------------


def static_skip(contender: Contender, cell: Cell) -> str | None:
    """Why a contender cannot run a cell here, decided before starting anything."""
    if contender.name == "select" and cell.descriptors >= FD_SETSIZE:
        return (f"select() cannot watch descriptors >= FD_SETSIZE ({FD_SETSIZE}); "
                f"this cell needs about {cell.descriptors}")
    if contender.name == "threads" and cell.proto == "tcp" and cell.connections + cell.idle > (
        MAX_THREADS
    ):
        return (f"{cell.connections + cell.idle:,} threads: not started, to stay within "
                f"the machine's process limits (max {MAX_THREADS})")
    return None


def run_cell(cell: Cell, contenders: list[Contender], config: Config, log: IO[str]) -> dict:
    """Every contender on one workload, interleaved, ``repetitions`` times."""
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for contender in contenders:
        reason = static_skip(contender, cell)
        if reason:
            results[contender.name] = {"status": "skipped", "reason": reason}
        else:
            todo.append(contender)
    servers, missing = start_servers(todo, cell.proto, config.server_cpus)
    results |= missing
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    try:
        for repetition in range(config.repetitions):
            for name, server in in_turn(servers, repetition):
                outcome = measure(server, cell, config)
                runs[name].append(outcome)
                shown = (outcome.get("error") or
                         f"{report.rate(outcome['echoes_per_s'])}, server "
                         f"{outcome['server_cpu']:.2f} / clients {outcome['client_cpu']:.2f} / "
                         f"others {report.fmt(outcome['other_cpu'])} cores")
                print(f"  {cell.id:<14} #{repetition + 1} {name:<16} {shown}", file=log, flush=True)
    finally:
        for server in servers.values():
            server.child.stop()
    for name, name_runs in runs.items():
        errors = [r["error"] for r in name_runs if r.get("error")]
        if len(errors) == len(name_runs):
            results[name] = {"status": "failed", "reason": errors[0], "runs": name_runs}
        else:
            results[name] = {"status": "measured", "reason": None, "runs": name_runs,
                             **report.summarize(name_runs, usable_cores())}
    ordered = {c.name: results[c.name] for c in contenders}
    cell_doc = {"id": cell.id, "title": cell.title, "workload": cell.workload,
                "connections": cell.connections, "size": cell.size, "idle": cell.idle,
                "results": ordered}
    report.add_ratios(cell_doc)
    return cell_doc


def in_turn(servers: dict[str, Server], repetition: int) -> list[tuple[str, Server]]:
    """The order of one repetition: A B C, then C B A, and so on.

    A contender that always ran first (or always right after the same neighbour)
    could gain or lose from it every time; alternating spreads that over all.
    """
    order = list(servers.items())
    return order if repetition % 2 == 0 else order[::-1]


def usable_cores() -> int:
    """Cores this process may run on (its affinity), else all of the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_info() -> dict[str, Any]:
    try:
        uvloop_version: str | None = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        uvloop_version = None
    libc = " ".join(platform.libc_ver()).strip() or "unknown libc"
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "libc": libc,
        "uvloop": uvloop_version,
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    generator = load_generator(args.client)
    print(f"load generator: {generator.kind} ({generator.detail})", file=sys.stderr, flush=True)
    server_cpus, client_cpus = pinning(args.pin)
    config = Config(args.duration, args.warmup, args.repetitions, args.clients, args.quick,
                    generator, server_cpus=server_cpus, client_cpus=client_cpus)
    contenders = [c for c in CONTENDERS if not args.only or c.name in args.only]
    wanted = set(args.cells) if args.cells else (QUICK_CELLS if args.quick else None)
    machine = machine_info()
    started = datetime.datetime.now(datetime.timezone.utc)
    cells = []
    for cell in CELLS:
        if wanted is not None and cell.id not in wanted:
            why = "not in --quick" if args.quick and not args.cells else "not selected (--cells)"
            cells.append({"id": cell.id, "title": cell.title, "workload": cell.workload,
                          "connections": cell.connections, "size": cell.size, "idle": cell.idle,
                          "results": {c.name: {"status": "skipped", "reason": why}
                                      for c in contenders}})
            continue
        print(f"{cell.title}:", file=sys.stderr, flush=True)
        cells.append(run_cell(cell, contenders, config, sys.stderr))
    machine["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "schema": 1,
        "created": started.strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "command": " ".join(["benchmarks/run.py", *sys.argv[1:]]),
        "note": args.note,
        "machine": machine,
        "config": {"duration": config.duration, "warmup": config.warmup,
                   "repetitions": config.repetitions, "client_processes": config.clients,
                   "client": generator.kind, "client_detail": generator.detail,
                   "server_bound_cpu": report.SERVER_BOUND_CPU, "baseline": report.BASELINE,
                   "malloc_tuned": TUNED_MALLOC, "order": "alternating",
                   "pinned": None if server_cpus is None else {
                       "server": sorted(server_cpus), "clients": sorted(client_cpus or ())}},
        "contenders": [{"name": c.name, "description": c.description,
                        "malloc": "tuned" if c.tuned_malloc else "stock"} for c in contenders],
        "cells": cells,
        "targets": report.evaluate_targets(cells),
        "seconds": round(time.monotonic() - START, 1),
    }


def rounded(value: Any) -> Any:
    """The same data with floats cut to 6 significant digits: measurements have fewer."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def save(doc: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    stem = out / f"bench-{stamp}{'-quick' if doc['quick'] else ''}"
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(rounded(doc), indent=1) + "\n")
    md_path.write_text(report.markdown(doc))
    return json_path, md_path


START = time.monotonic()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few cells, 1 short repetition: seconds, for CI")
    parser.add_argument("--duration", type=float, help="seconds measured per run (default 1.0)")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (default 0.3)")
    parser.add_argument("--repetitions", type=int, help="interleaved repetitions (default 3)")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--client", choices=["auto", "c", "python"], default="auto",
                        help="load generator: the compiled echo_client.c, clients.py, or auto "
                             "(C when it builds, else Python; the report says which ran)")
    parser.add_argument("--pin", action="store_true",
                        help="Linux: the server on one core, the clients on the others")
    parser.add_argument("--only", type=lambda s: s.split(","), help="contenders, comma-separated")
    parser.add_argument("--cells", type=lambda s: s.split(","), help="cell ids, comma-separated")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where to write")
    parser.add_argument("--note", default="", help="a note saved with the results (machine load)")
    args = parser.parse_args(argv)
    unknown = set(args.cells or ()) - {cell.id for cell in CELLS}
    unknown |= set(args.only or ()) - {c.name for c in CONTENDERS}
    if unknown:
        parser.error(f"unknown cell or contender: {', '.join(sorted(unknown))} "
                     f"(cells: {', '.join(c.id for c in CELLS)})")
    defaults = (0.3, 0.1, 1) if args.quick else (1.0, 0.3, 3)
    for name, default in zip(("duration", "warmup", "repetitions"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    doc = run(args)
    json_path, md_path = save(doc, args.out)
    print(report.markdown(doc))
    print(f"saved {json_path} and {md_path.name} in {doc['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
