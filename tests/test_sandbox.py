"""eventloop.grading.sandbox: what a confined command can and cannot do, tried for real.

Each test runs a small Python program under ``confined`` and asserts what it saw.
Tests that need bubblewrap, root or cgroups skip with the reason where they are missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventloop.grading import sandbox
from eventloop.grading.sandbox import Confinement, Limits, confined, contained

ROOT = Path(__file__).resolve().parent.parent

needs_bwrap = pytest.mark.skipif(
    sandbox.method() != "bwrap", reason="bubblewrap (bwrap) is not installed or cannot run here"
)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
needs_cgroup = pytest.mark.skipif(
    os.geteuid() != 0 or not (sandbox.PIDS_CGROUP / "cgroup.procs").exists(),
    reason="no writable pids cgroup (v1) here",
)

PROBE = r"""
import json, os, socket, sys
seen = {"uid": os.getuid(), "pid": os.getpid(), "env": sorted(os.environ)}
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as error:
        return type(error).__name__
seen["hidden"] = listing(sys.argv[1])
seen["processes"] = [name for name in os.listdir("/proc") if name.isdigit()]
try:
    open(sys.argv[2], "w").close()
    seen["wrote_outside"] = True
except OSError as error:
    seen["wrote_outside"] = type(error).__name__
open("mine.txt", "w").write("x")
with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    seen["loopback"] = True
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
    try:
        probe.connect(("192.0.2.1", 9))
        seen["route"] = True
    except OSError as error:
        seen["route"] = type(error).__name__
print(json.dumps(seen))
"""


def run_confined(tmp_path: Path, *args: str, **settings: object) -> dict[str, object]:
    """Run PROBE confined with a writable copy in ``tmp_path/work``; what it saw."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    confinement = Confinement(writable=work, **settings)  # type: ignore[arg-type]
    with contained(confinement) as confinement:
        argv = confined([sys.executable, "-I", "-c", PROBE, *args], confinement, cwd=work)
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, start_new_session=True, cwd=work
        )
    assert done.returncode == 0, done.stderr
    assert (work / "mine.txt").exists()  # it wrote in its one writable folder
    return json.loads(done.stdout)


@needs_bwrap
@needs_root
def test_a_confined_command_sees_only_what_it_should(tmp_path: Path) -> None:
    secret = tmp_path / "solutions"
    secret.mkdir()
    (secret / "03-select.ipynb").write_text("the worked answers")
    outside = ROOT / "solutions"  # the course's own: hidden even though the checkout is shown
    seen = run_confined(
        tmp_path,
        str(secret),
        str(tmp_path / "elsewhere.txt"),
        user="nobody",
        hidden=(secret, outside),
        env={"HOME": str(tmp_path / "work")},
    )
    assert seen["uid"] != 0 and seen["uid"] == sandbox.user_ids("nobody")[0]
    assert seen["hidden"] == []  # the folder is there, empty
    assert seen["wrote_outside"] in ("PermissionError", "OSError")  # read-only, or not ours
    assert (tmp_path / "work" / "mine.txt").exists()  # its one writable folder
    assert seen["loopback"] is True
    assert seen["route"] == "OSError"  # no network beyond loopback
    assert set(seen["processes"]) <= {"1", "2", "3"}  # bwrap's init, the command
    assert seen["env"] == ["HOME", "LC_CTYPE", "PATH", "PWD"]  # nothing of ours passed on
    assert not (tmp_path / "elsewhere.txt").exists()


@needs_bwrap
@needs_root
def test_the_course_solutions_are_hidden_and_the_package_is_shown(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    solutions = str(ROOT / "solutions")
    code = f"import os, eventloop.checks; print(os.listdir({solutions!r}))\n"
    code += "print(eventloop.checks.__file__)"
    confinement = Confinement(writable=work, user="nobody", hidden=(ROOT / "solutions",))
    with contained(confinement) as confinement:
        done = subprocess.run(
            confined([sys.executable, "-I", "-c", code], confinement, cwd=work),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    listed, package = done.stdout.splitlines()
    assert listed == "[]"
    assert package.startswith(str(ROOT / "eventloop"))


def test_limits_stop_a_process_that_eats_memory_or_writes_a_huge_file(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    limits = Limits(memory_bytes=512 * sandbox.MIB, file_bytes=sandbox.MIB)
    code = (
        "import sys\n"
        "try:\n    b = bytearray(1024 * 1024 * 1024)\nexcept MemoryError:\n    print('memory')\n"
        "try:\n    open('big', 'wb').write(b'x' * 2 * 1024 * 1024)\n"
        "except OSError as e:\n    print('file', e.errno)\n"
    )
    confinement = Confinement(writable=work, limits=limits)
    with contained(confinement) as confinement:
        done = subprocess.run(
            confined([sys.executable, "-I", "-c", code], confinement, cwd=work),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.stdout.splitlines() == ["memory", "file 27"], done.stderr  # EFBIG
    assert (work / "big").stat().st_size <= sandbox.MIB


@needs_cgroup
def test_every_descendant_is_killed_setsid_or_not(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "print('started', flush=True)\n"
    )
    confinement = Confinement(writable=work, user="nobody" if os.geteuid() == 0 else None)
    with contained(confinement) as inside:
        assert inside.cgroup is not None
        done = subprocess.run(
            confined([sys.executable, "-I", "-c", code], inside, cwd=work),
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,
        )
        assert done.stdout == "started\n", done.stderr
        if sandbox.method() == "none":  # no pid namespace: the setsid child is still there
            assert (inside.cgroup / "cgroup.procs").read_text().split()
    assert not inside.cgroup.exists()  # every process killed, the cgroup removed


@needs_cgroup
def test_a_fork_bomb_stops_at_the_process_limit(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n"
        "        children += 1\n"
        "except OSError:\n    pass\n"
        "print(children, flush=True)\n"
        "os._exit(0)\n"
    )
    confinement = Confinement(writable=work, limits=Limits(processes=20))
    began = time.monotonic()
    with contained(confinement) as inside:
        done = subprocess.run(
            confined([sys.executable, "-I", "-c", code], inside, cwd=work),
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,
        )
    assert int(done.stdout) < 20, done.stderr
    assert time.monotonic() - began < 30  # the sleeping children were killed, not waited for


def test_the_command_line_keeps_the_command_and_its_arguments(tmp_path: Path) -> None:
    argv = confined(["python", "-c", "print('{x}')"], Confinement(writable=tmp_path))
    assert argv[-3:] == ["python", "-c", "print('{x}')"]
    assert "prlimit" in argv
    if sandbox.method() == "bwrap":
        assert argv[argv.index("--bind") + 1] == str(tmp_path.resolve())
        assert {"--unshare-pid", "--unshare-net", "--die-with-parent", "--clearenv"} <= set(argv)


def test_the_report_says_what_is_contained() -> None:
    report = "\n".join(sandbox.containment_report())
    if sandbox.method() == "bwrap":
        assert "bubblewrap" in report and "loopback-only network" in report
    else:
        assert "no bubblewrap" in report or "NOT CONTAINED" in report
    if os.geteuid() == 0:
        assert "runs as user nobody" in report
    else:
        assert "runs AS YOU" in report
    assert "limits per process" in report


def test_a_busy_loop_is_stopped_by_the_cpu_limit(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    confinement = Confinement(writable=work, limits=Limits(cpu_seconds=1))
    with contained(confinement) as confinement:
        done = subprocess.run(
            confined([sys.executable, "-I", "-c", "while True: pass"], confinement, cwd=work),
            capture_output=True,
            timeout=120,
        )
    assert done.returncode != 0  # SIGXCPU (or SIGKILL at the hard limit), not the timeout


def test_without_prlimit_and_setpriv_python_sets_the_limits_and_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS, or a system without util-linux: the same limits, the same user."""
    real_which = sandbox.shutil.which
    monkeypatch.setattr(
        sandbox.shutil,
        "which",
        lambda name: None if name in ("prlimit", "setpriv") else real_which(name),
    )
    work = tmp_path / "work"
    work.mkdir()
    code = "import os, resource; print(os.getuid(), resource.getrlimit(resource.RLIMIT_NOFILE))"
    user = "nobody" if os.geteuid() == 0 else None
    confinement = Confinement(writable=work, user=user, limits=Limits(open_files=77))
    argv = confined([sys.executable, "-I", "-c", code], confinement, cwd=work)
    assert "prlimit" not in argv and "setpriv" not in argv
    with contained(confinement) as inside:
        done = subprocess.run(
            confined([sys.executable, "-I", "-c", code], inside, cwd=work),
            capture_output=True,
            text=True,
            timeout=60,
        )
    uid = sandbox.user_ids(user)[0] if user else os.getuid()
    assert done.stdout.split(maxsplit=1) == [str(uid), "(77, 77)\n"], done.stderr


@needs_root
@pytest.mark.parametrize("fallback", ["unshare", "none"])
def test_the_fallbacks_still_switch_user_and_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: str
) -> None:
    """Without bubblewrap: the user and the limits hold; with unshare, pids and network too.

    Without bubblewrap the user must be able to read the Python environment (the
    report says so); where it cannot (a Python under /root), the command runs as root.
    """
    if fallback == "unshare" and not sandbox.works(["unshare", *sandbox.UNSHARE, "true"]):
        pytest.skip("unshare cannot make namespaces here")
    monkeypatch.setattr(sandbox, "method", lambda: fallback)
    as_nobody = Confinement(writable=tmp_path, user="nobody")
    user = "nobody" if sandbox.works(confined([sys.executable, "-c", ""], as_nobody)) else None
    os.chmod(tmp_path, 0o755)  # the user must reach its folder: no bwrap to bind it elsewhere
    seen = run_confined(tmp_path, str(tmp_path), str(tmp_path / "x"), user=user)
    if user is not None:
        assert seen["uid"] == sandbox.user_ids("nobody")[0]
        assert seen["wrote_outside"] == "PermissionError"
    assert set(seen["env"]) <= {"LC_CTYPE", "PATH"}  # nothing of ours passed on
    if fallback == "unshare":
        assert seen["route"] == "OSError" and len(seen["processes"]) <= 3
    else:
        assert len(seen["processes"]) > 3  # no pid namespace: the report says so
