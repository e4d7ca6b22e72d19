"""From raw runs to the numbers the course quotes: medians, ratios, verdicts, a markdown table.

Pure functions on plain data (the JSON ``run.py`` writes), so they are unit-tested on
synthetic numbers (``tests/test_benchmarks.py``) and the benchmark notebook reuses them.

The rules, in one place:

* A cell's number for a contender is the **median** of its repetitions.
* A contender is **server-bound** in a cell when the median server CPU is at least
  ``SERVER_BOUND_CPU`` of one core. Otherwise the clients could not keep it busy: the
  cell says **client-bound** and no ratio is quoted, because the throughput measured
  the load generator, not the server.
* A **ratio** compares medians measured in the same run and the same cell, and is quoted
  only when both sides are server-bound.
* Beside each quotable ratio, the **median of paired ratios** (repetition *i* against the
  baseline's repetition *i*) with a 95% interval that assumes nothing about the noise
  (``intervals.py``). It says whether a difference is larger than the run's noise.
* A **target** is met or missed only on quotable numbers; otherwise it is "undecided",
  with the reason. Its verdict also says whether the intervals put it beyond the noise.
  Targets are reported, never tuned for.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from intervals import MIN_PAIRS, Interval, median_interval, paired_ratios

SERVER_BOUND_CPU = 0.9
"""Share of one core the server must use for its throughput to measure the server."""

BASELINE = "asyncio"
"""The fair baseline: asyncio Protocol with glibc's malloc thresholds fixed (CPython #85451)."""

Result = dict[str, Any]
Document = dict[str, Any]


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are known, or None if none is."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


IDLE_CPU = 0.5
"""Cores left unused on the machine above which a starved server was not starved by load."""


def bound(
    server_cpu: float | None, idle_cpu: float | None = None, threshold: float = SERVER_BOUND_CPU
) -> str:
    """What limited the throughput: ``"server"``, ``"client"``, ``"latency"`` or unknown.

    * ``server``: the server kept a core busy; its throughput is its own.
    * ``client``: it did not, and the clients (and other programs) used the rest of
      the machine: they could not feed it faster.
    * ``latency``: it did not, yet the machine had ``IDLE_CPU`` cores or more to spare:
      everyone was waiting (wake-ups, a thread convoy on the GIL), nothing was saturated.
    """
    if server_cpu is None:
        return "unknown"
    if server_cpu >= threshold:
        return "server"
    if idle_cpu is not None and idle_cpu >= IDLE_CPU:
        return "latency"
    return "client"


BOUND_NOTES = {"client": "client-bound", "latency": "latency-bound", "unknown": "cpu unknown"}
"""What a table says instead of a ratio, by what limited the run."""


def per(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is unknown or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def summarize(
    runs: Sequence[dict[str, Any]], cores: int | None = None, threshold: float = SERVER_BOUND_CPU
) -> Result:
    """Medians over a contender's repetitions in one cell, and what limited it.

    Each run holds ``echoes_per_s``, ``server_cpu``, ``client_cpu`` and ``other_cpu``
    (cores: CPU seconds per second of the window), ``echoes`` and ``waits`` (loop
    iterations, or None) in the window, and ``cpu_seconds``. ``cores`` is the
    machine's, to tell how much of it was left unused.
    """
    good = [r for r in runs if r.get("error") is None]
    server_cpu = median(r.get("server_cpu") for r in good)
    idle_cpu = None
    if cores is not None:
        idle_cpu = median(
            max(0.0, cores - r["server_cpu"] - r.get("client_cpu", 0) - (r.get("other_cpu") or 0))
            for r in good if r.get("server_cpu") is not None
        )
    return {
        "echoes_per_s": median(r["echoes_per_s"] for r in good),
        "bytes_per_s": median(r.get("bytes_per_s") for r in good),
        "server_cpu": server_cpu,
        "client_cpu": median(r.get("client_cpu") for r in good),
        "other_cpu": median(r.get("other_cpu") for r in good),
        "cpu_per_echo": median(per(r.get("cpu_seconds"), r.get("echoes")) for r in good),
        "cpu_per_wait": median(per(r.get("cpu_seconds"), r.get("waits")) for r in good),
        "echoes_per_wait": median(per(r.get("echoes"), r.get("waits")) for r in good),
        "idle_cpu": idle_cpu,
        "bound": bound(server_cpu, idle_cpu, threshold),
        "repetitions": len(good),
    }


def ratio(result: Result | None, baseline: Result | None) -> tuple[float | None, str]:
    """The contender's median throughput over the baseline's, and why it is None if it is."""
    if not measured(result):
        return None, "not measured"
    if not measured(baseline):
        return None, "baseline not measured"
    assert result is not None and baseline is not None
    if result["bound"] != "server":
        return None, BOUND_NOTES[result["bound"]]
    if baseline["bound"] != "server":
        return None, "baseline " + BOUND_NOTES[baseline["bound"]]
    value = per(result["echoes_per_s"], baseline["echoes_per_s"])
    return value, "" if value is not None else "no echoes"


def measured(result: Result | None) -> bool:
    return bool(result) and result.get("status") == "measured"  # type: ignore[union-attr]


def add_ratios(cell: dict[str, Any], baseline: str = BASELINE) -> None:
    """Give every contender of a cell its ratio to the baseline of the same cell.

    Where the ratio is quotable, also the median of the paired ratios and its interval
    (``paired``; None with fewer than 6 repetitions).
    """
    base = cell["results"].get(baseline)
    for result in cell["results"].values():
        if measured(result):
            result["ratio"], result["ratio_note"] = ratio(result, base)
            result["paired"] = None
            if result["ratio"] is not None and result is not base:
                interval = median_interval(paired_ratios(result["runs"], base["runs"]))
                result["paired"] = None if interval is None else interval.as_dict()


def paired(result: Result | None) -> Interval | None:
    """The paired-ratio interval saved in a result, if it has one."""
    saved = (result or {}).get("paired")
    return Interval(**saved) if saved else None


# --- targets ------------------------------------------------------------------------------------

TARGETS: list[dict[str, Any]] = [
    {
        "id": "epoll-tcp",
        "text": "course's epoll loop >= 1.0x asyncio in every TCP cell",
        "contender": "epoll", "versus": "asyncio", "workload": "tcp", "threshold": 1.0,
    },
    {
        "id": "epoll-tcp-uvloop",
        "text": "course's epoll loop >= 0.9x uvloop in every TCP cell (aim)",
        "contender": "epoll", "versus": "uvloop", "workload": "tcp", "threshold": 0.9,
    },
    {
        "id": "select-tcp-100",
        "text": "post's select loop >= 0.9x asyncio at 100 connections",
        "contender": "select", "versus": "asyncio", "workload": "tcp", "connections": 100,
        "threshold": 0.9,
    },
    {
        "id": "epoll-idle",
        "text": "epoll's cost per iteration at 10,000 idle <= 1.1x its cost at 0 idle",
        "contender": "epoll", "workload": "idle", "threshold": 1.1,
    },
    {
        "id": "select-udp",
        "text": "UDP echo, post's select loop >= 1.0x asyncio",
        "contender": "select", "versus": "asyncio", "workload": "udp", "threshold": 1.0,
    },
    {
        "id": "epoll-udp",
        "text": "UDP echo, course's epoll loop >= 1.0x asyncio",
        "contender": "epoll", "versus": "asyncio", "workload": "udp", "threshold": 1.0,
    },
]
"""The issue's targets. Each is evaluated on this run's numbers only."""


def evaluate_target(target: dict[str, Any], cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Met, missed or undecided (with the reason) for one target."""
    if target["workload"] == "idle":
        return evaluate_idle_target(target, cells)
    chosen = [
        c for c in cells
        if c["workload"] == target["workload"]
        and c.get("connections") == target.get("connections", c.get("connections"))
    ]
    values: list[tuple[str, float]] = []
    undecided: dict[str, list[str]] = {}  # reason -> cell ids
    for cell in chosen:
        results = cell["results"]
        value, why = ratio(results.get(target["contender"]), results.get(target["versus"]))
        if value is not None:
            values.append((cell["id"], value))
        elif not_selected(results.get(target["contender"])):
            undecided.setdefault("not run", []).append(cell["id"])
        else:
            reason = skipped_reason(results.get(target["contender"])) or why
            undecided.setdefault(reason, []).append(cell["id"])
    worst = min(values, key=lambda item: item[1]) if values else None
    if worst is not None and worst[1] < target["threshold"]:
        status = "missed"
    elif worst is not None and not undecided:
        status = "met"
    else:
        status = "undecided"
    parts = [", ".join(f"{cid} {v:.2f}x" for cid, v in values)]
    parts += [f"{reason}: {', '.join(ids)}" for reason, ids in undecided.items()]
    detail = "; ".join(filter(None, parts))
    quoted = {cell_id for cell_id, _ in values}
    by_cell = {
        cell["id"]: median_interval(paired_ratios(
            cell["results"][target["contender"]]["runs"], cell["results"][target["versus"]]["runs"]
        ))
        for cell in chosen if cell["id"] in quoted
    }
    return {
        "id": target["id"], "text": target["text"], "status": status,
        "value": None if worst is None else round(worst[1], 3),
        "detail": detail or "no cell of this workload was run",
        "noise": beyond_noise(status, values, by_cell, target["threshold"]),
    }


def beyond_noise(
    status: str,
    values: list[tuple[str, float]],
    intervals: dict[str, Interval | None],
    threshold: float,
) -> str:
    """Whether the paired intervals confirm a verdict, or the run's noise could have made it.

    A "met" is confirmed when every cell's interval lies at or above the threshold; a
    "missed" when every cell below it has its whole interval below it.
    """
    if status == "met":
        doubtful = [cid for cid, _ in values if not above(intervals.get(cid), threshold)]
    elif status == "missed":
        doubtful = [
            cid for cid, v in values if v < threshold and not below(intervals.get(cid), threshold)
        ]
    else:
        return "-"
    if not doubtful:
        return "yes"
    if all(intervals.get(cid) is None for cid, _ in values):
        return f"unknown: fewer than {MIN_PAIRS} repetitions"  # make bench's default of 3
    shown = []
    for cid in doubtful:
        interval = intervals.get(cid)
        shown.append(f"{cid} {interval.shown() if interval else '(fewer than 6 repetitions)'}")
    return "no, within noise: " + ", ".join(shown)


def above(interval: Interval | None, threshold: float) -> bool:
    return interval is not None and interval.low >= threshold


def below(interval: Interval | None, threshold: float) -> bool:
    return interval is not None and interval.high < threshold


def evaluate_idle_target(target: dict[str, Any], cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Cost per loop iteration at the most idle connections over the cost at none."""
    series = {
        c["idle"]: c["results"].get(target["contender"]) for c in cells if c["workload"] == "idle"
    }
    low, high = series.get(0), series.get(10000)
    verdict = {"id": target["id"], "text": target["text"], "value": None}
    if not (measured(low) and measured(high)):
        missing = [k for k, r in ((0, low), (10000, high)) if not measured(r)]
        reasons = [f"{k} idle: {skipped_reason(series.get(k)) or 'not run'}" for k in missing]
        return verdict | {"status": "undecided", "detail": "; ".join(reasons)}
    assert low is not None and high is not None
    value = per(high["cpu_per_wait"], low["cpu_per_wait"])
    if value is None:
        return verdict | {"status": "undecided", "detail": "no loop iterations counted"}
    status = "met" if value <= target["threshold"] else "missed"
    detail = (
        f"{low['cpu_per_wait'] * 1e6:.1f} us/iteration at 0 idle "
        f"({low['echoes_per_wait']:.1f} echoes/iteration), "
        f"{high['cpu_per_wait'] * 1e6:.1f} us at 10,000 idle "
        f"({high['echoes_per_wait']:.1f} echoes/iteration)"
    )
    # An iteration that echoes more costs more: say so, with the cost per echo beside it.
    per_echo = per(high.get("cpu_per_echo"), low.get("cpu_per_echo"))
    if per_echo is not None:
        detail += f"; per echo, 10,000 idle costs {per_echo:.2f}x 0 idle"
    return verdict | {"status": status, "value": round(value, 3), "detail": detail}


def not_selected(result: Result | None) -> bool:
    """Whether a cell was left out of this run on purpose (``--quick``, ``--cells``)."""
    return result is None or str(result.get("reason", "")).startswith(NOT_RUN_PREFIXES)


NOT_RUN_PREFIXES = ("not in --quick", "not selected")


def skipped_reason(result: Result | None) -> str | None:
    if result is None:
        return "not run"
    if result.get("status") in ("skipped", "failed"):
        return f"{result['status']}: {result.get('reason')}"
    return None


def evaluate_targets(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [evaluate_target(target, cells) for target in TARGETS]


# --- markdown -----------------------------------------------------------------------------------


def rate(value: float | None) -> str:
    """Echoes per second in a short human form: ``31.2k/s``."""
    if value is None:
        return "-"
    return f"{value / 1000:.1f}k/s" if value >= 1000 else f"{value:.0f}/s"


def throughput_cell(result: Result | None) -> str:
    """One table entry: throughput and ratio, or why there is none."""
    if result is None:
        return "not run"
    if result.get("status") != "measured":
        return result.get("status", "?")
    shown = rate(result["echoes_per_s"])
    if result.get("ratio") is not None:
        return f"{shown} ({result['ratio']:.2f}x)"
    note = result.get("ratio_note") or ""
    return f"{shown} ({note})" if note else shown


PAIRED_NOTE = (
    "Repetition i of a contender over repetition i of asyncio (measured moments apart); "
    "the median of those ratios, and the range that holds the true median "
    "with at least 95% probability (the sign test's interval, benchmarks/intervals.py). A range "
    "entirely above 1.00 is faster beyond this run's noise; one that spans 1.00 cannot be told "
    "apart from asyncio here."
)


def paired_cell(result: Result | None) -> str:
    """One entry of the 'how sure' table: median of paired ratios [interval], or why none."""
    interval = paired(result)
    if interval is not None:
        return interval.shown()
    if measured(result) and result.get("ratio") is not None:  # type: ignore[union-attr]
        if result.get("repetitions", 0) < MIN_PAIRS:  # type: ignore[union-attr]
            return "too few repetitions"
    return "-"  # the baseline itself, or no ratio to be sure of


def cpu_cell(result: Result | None) -> str:
    if not measured(result):
        return "-"
    assert result is not None
    server, client = result.get("server_cpu"), result.get("client_cpu")
    return f"{fmt(server)} / {fmt(client)} / {fmt(result.get('other_cpu'))}"


def cost_cell(result: Result | None) -> str:
    return micro(result.get("cpu_per_echo")) if measured(result) else "-"  # type: ignore[union-attr]


def fmt(value: float | None, digits: int = 2) -> str:
    return "?" if value is None else f"{value:.{digits}f}"


def micro(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e6:.1f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown(doc: Document) -> str:
    """The report a reader sees: machine, throughput and ratios, CPU, idle scaling, targets."""
    names = [c["name"] for c in doc["contenders"]]
    machine, config = doc["machine"], doc["config"]
    lines = [
        f"# Echo benchmarks, {doc['created']}{' (--quick)' if doc.get('quick') else ''}",
        "",
        f"Machine: {machine['cores']} cores, {machine['platform']}, "
        f"{machine['implementation']} {machine['python']}, {machine['libc']}, "
        f"uvloop {machine.get('uvloop') or 'not installed'}. "
        f"Load average before/after: {machine['loadavg_before']} / {machine['loadavg_after']}.",
        "",
        f"Method: servers and {config['client_processes']} client processes on 127.0.0.1 "
        f"({load_generator(config)}); "
        f"{pinned(config)}closed loop (one message in flight per connection); "
        f"{config['repetitions']} "
        f"interleaved repetitions{ORDERS.get(config.get('order', 'fixed'), '')} of "
        f"{config['duration']} s after {config['warmup']} s of warm-up; "
        f"medians. Ratios are to `{doc['config']['baseline']}` in the same cell of the same run, "
        f"quoted only when both servers used at least {config['server_bound_cpu']:.0%} of a core. "
        f"Otherwise the cell says 'client-bound' (the clients and other programs used the rest "
        f"of the machine: the load generator was measured, not the server) or 'latency-bound' "
        f"(at least {IDLE_CPU} core stayed idle: nothing was saturated, everyone waited).",
    ]
    if doc.get("note"):
        lines += ["", f"Note: {doc['note']}"]
    lines += ["", "## Echoes per second (ratio to tuned asyncio)", ""]
    lines += table(
        ["cell", *names],
        ([cell["title"], *(throughput_cell(cell["results"].get(n)) for n in names)]
         for cell in doc["cells"]),
    )
    lines += ["", "## CPU, in cores: server / all clients / everything else on the machine", ""]
    lines += table(
        ["cell", *names],
        ([cell["title"], *(cpu_cell(cell["results"].get(n)) for n in names)]
         for cell in doc["cells"]),
    )
    lines += ["", "## Server CPU per echo (us): a second opinion, less sensitive to other load", ""]
    lines += table(
        ["cell", *names],
        ([cell["title"], *(cost_cell(cell["results"].get(n)) for n in names)]
         for cell in doc["cells"]),
    )
    idle = [c for c in doc["cells"] if c["workload"] == "idle"]
    if idle:
        lines += ["", "## Idle scaling: server CPU per loop iteration (us), echoes/iteration", ""]
        lines += table(
            ["idle connections", *names],
            ([f"{cell['idle']:,}", *(iteration_cell(cell["results"].get(n)) for n in names)]
             for cell in idle),
        )
    if any(paired(r) for cell in doc["cells"] for r in cell["results"].values()):
        lines += ["", "## How sure: paired ratios to tuned asyncio, with a 95% interval", "",
                  PAIRED_NOTE, ""]
        lines += table(
            ["cell", *names],
            ([cell["title"], *(paired_cell(cell["results"].get(n)) for n in names)]
             for cell in doc["cells"] if cell["workload"] != "idle"),
        )
    lines += ["", "## Targets (reported, never tuned for)", ""]
    lines += table(
        ["target", "status", "worst value", "beyond noise?", "detail"],
        ([t["text"], t["status"], fmt(t["value"]), t.get("noise", "-"), t["detail"]]
         for t in doc["targets"]),
    )
    skipped = []
    for cell in doc["cells"]:
        results = cell["results"]
        if results and all(not_selected(r) for r in results.values()):
            skipped.append(f"- {cell['title']}: {next(iter(results.values()))['reason']}")
            continue
        skipped += [
            f"- {cell['title']}, {name}: {result['status']}: {result.get('reason')}"
            for name, result in results.items()
            if result.get("status") != "measured"
        ]
    if skipped:
        lines += ["", "## Not measured, and why", "", *skipped]
    return "\n".join(lines) + "\n"


def pinned(config: dict[str, Any]) -> str:
    """The method's words for ``--pin``: which cores the server and the clients ran on."""
    cores = config.get("pinned")
    if not cores:
        return ""
    clients = ", ".join(str(c) for c in cores["clients"])
    return f"server pinned to core {cores['server'][0]}, clients to core(s) {clients}; "


ORDERS = {"alternating": " (order reversed every other one)", "fixed": " (same order each time)"}
"""How the contenders took turns: runs saved before alternation kept one order."""


def load_generator(config: dict[str, Any]) -> str:
    """Which program generated the load: runs saved before there was a choice used Python."""
    kind = {"c": "compiled C load generator", "python": "Python load generator"}
    detail = config.get("client_detail", "benchmarks/clients.py")
    return f"{kind.get(config.get('client', 'python'), 'load generator')}: {detail}"


def iteration_cell(result: Result | None) -> str:
    if not measured(result):
        return "-" if result is None else result.get("status", "-")
    assert result is not None
    if result.get("cpu_per_wait") is None:
        return f"{micro(result.get('cpu_per_echo'))} per echo"
    return f"{micro(result['cpu_per_wait'])} ({fmt(result['echoes_per_wait'], 1)}/it)"


# --- reading saved results ----------------------------------------------------------------------


def load(path: str | Path) -> Document:
    return json.loads(Path(path).read_text())


def latest(directory: str | Path, quick: bool = False) -> Path:
    """The newest saved result in ``directory`` (full runs unless ``quick``)."""
    found = sorted(
        p for p in Path(directory).glob("bench-*.json") if ("-quick" in p.name) == quick
    )
    if not found:
        raise FileNotFoundError(f"no saved {'quick ' if quick else ''}results in {directory}")
    return found[-1]
