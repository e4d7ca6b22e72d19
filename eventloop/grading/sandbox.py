"""Graded code, confined: another user, one writable folder, nothing else to see, no leftovers.

A grader runs code it did not write. Run with the grader's rights, a notebook can read
the worked answers, rewrite a classmate's notebook, kill classmates' kernels or write
into the grader's own pipes (issue 24). So ``grade`` starts each kernel through
``confined(argv, confinement)``, which wraps the command in what this machine has:

    bwrap (bubblewrap)  a read-only view of the system; empty /home, /root, /srv, /tmp;
                        the Python environment and the course package shown read-only,
                        ``solutions/`` and the submissions hidden; the one writable
                        folder (a private copy of one submission) bound read-write; its
                        own pid, network (loopback only), IPC and host-name namespaces;
                        killed with its parent, in a session of its own
    unshare             where bwrap is missing but we are root: the same namespaces
                        (pids, network, IPC), but the files are the real ones: only the
                        user switch and file permissions keep the answers private
    nothing             neither: limits and a process group only

and in every case: a separate, unprivileged user when the grader is root (``nobody``, or
``--user``), an environment of a few variables (no secret of the grader's), resource
limits (``prlimit``, or Python's ``resource`` without it), and a pids cgroup per kernel
where cgroups can be written, so that
every process it starts, ``setsid`` or not, is killed when grading ends (``contained``).
``containment_report()`` says which of these hold on this machine, in words.

The API is small and has no grading in it, so that other judges can confine their
candidates the same way::

    with contained(Confinement(writable=copy, hidden=(solutions,))) as confinement:
        argv = confined(argv, confinement, cwd=copy)
        process = subprocess.Popen(argv, cwd=copy, start_new_session=True)
        ...
    # every process the command started is gone here
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

MIB = 1024 * 1024

HIDDEN_ALWAYS = (Path("/home"), Path("/root"), Path("/srv"), Path("/tmp"), Path("/run/user"))
"""Folders where users keep their files: empty in the sandbox (bwrap only)."""

PIDS_CGROUP = Path("/sys/fs/cgroup/pids")
"""cgroup v1's pids controller: a limit on processes per kernel, and the list of them all."""

CGROUP_PREFIX = "eventloop-grade-"
"""Then the pid of the process that made the cgroup, so that its parent can clean up."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one confined command (``prlimit``); per process unless said.

    The defaults fit one course notebook: a kernel takes about 150 MB and a few seconds.
    """

    cpu_seconds: int = 300
    """CPU time of each process: a busy loop ends with SIGXCPU/SIGKILL after this."""
    memory_bytes: int = 2048 * MIB
    """Address space of each process (``RLIMIT_AS``): the kernel's threads map a lot."""
    open_files: int = 1024
    """Descriptors open at once, per process."""
    processes: int = 128
    """Processes and threads of the whole command (pids cgroup), or of the user (fallback)."""
    file_bytes: int = 64 * MIB
    """The largest file it can write; also the size of its private /tmp (bwrap)."""


@dataclass(frozen=True)
class Confinement:
    """Where and as whom a command runs, and what it can see and use.

    ``writable``: the only folder it can write (give it a private copy, never the original).
    ``user``: run as this user (name or uid); None: as the caller (see ``default_user``).
    ``hidden``: folders it must not see at all (``solutions/``, the submissions' folders).
    ``visible``: folders it needs read-only even where they lie under /home, /root, /srv
    or /tmp (the Python environment, the course package); ``needed_folders()`` by default.
    ``env``: its whole environment (nothing of the caller's is passed on).
    The network is always loopback only, where a network namespace can be made.
    ``cgroup``: set by ``contained``: the pids cgroup the command joins.
    """

    writable: Path
    user: str | int | None = None
    hidden: tuple[Path, ...] = ()
    visible: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = Limits()
    cgroup: Path | None = None


# --- what this machine can do ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def method() -> str:
    """``"bwrap"``, ``"unshare"`` or ``"none"``: the strongest confinement that works here."""
    probe = ["--size", "4096", "--perms", "1777", "--tmpfs", "/tmp", "--clearenv", "--", "true"]
    if shutil.which("bwrap") and works(["bwrap", *BASE_BWRAP, *probe]):  # 0.7 or later
        return "bwrap"
    if os.geteuid() == 0 and shutil.which("unshare") and works(["unshare", *UNSHARE, "true"]):
        return "unshare"
    return "none"


def works(argv: list[str]) -> bool:
    """Does ``argv`` run and succeed (a probe: namespaces may be forbidden in a container)?"""
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


BASE_BWRAP = (
    "--ro-bind", "/", "/",
    "--dev", "/dev",
    "--proc", "/proc",
    "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    "--die-with-parent", "--new-session",
)  # fmt: skip
UNSHARE = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts", "--")


def default_user() -> str | None:
    """``nobody`` when the grader is root (code must never run as root), else the caller."""
    return "nobody" if os.geteuid() == 0 else None


def user_ids(user: str | int | None) -> tuple[int, int] | None:
    """``(uid, gid)`` of ``user``; None to stay the caller. Raises ``KeyError`` if unknown."""
    if user is None:
        return None
    if isinstance(user, int) or str(user).isdigit():
        uid = int(user)
        try:
            return uid, pwd.getpwuid(uid).pw_gid
        except KeyError:
            return uid, uid
    entry = pwd.getpwnam(str(user))
    return entry.pw_uid, entry.pw_gid


def needed_folders() -> tuple[Path, ...]:
    """What a Python kernel must read: the interpreter's prefixes and the course package."""
    import eventloop

    package = Path(eventloop.__file__).resolve().parent.parent  # a checkout, or site-packages
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    prefixes.add(Path(sys.executable).resolve().parent.parent)
    return tuple(sorted({*prefixes, package}, key=lambda p: len(p.parts)))


# --- the command line -----------------------------------------------------------------------------


def confined(argv: list[str], confinement: Confinement, cwd: Path | None = None) -> list[str]:
    """``argv`` wrapped so that it runs confined as well as this machine allows (see above).

    Start the result with ``start_new_session=True`` (its own process group) and
    ``cwd=cwd`` (bwrap is told too: it changes the root), inside
    ``contained(confinement)`` (its cgroup, and the clean-up). ``cwd`` must be inside
    ``confinement.writable`` or readable by the user.
    """
    ids = user_ids(confinement.user)
    # RLIMIT_NPROC counts every process of the user: only a user of its own is counted by it
    count_processes = confinement.cgroup is None and ids is not None
    options = rlimit_options(confinement.limits, count_processes)
    if not shutil.which("prlimit") or (ids is not None and not shutil.which("setpriv")):
        uid, gid = ids if ids is not None else ("-", "-")  # macOS, or no util-linux
        command = [sys.executable, "-I", "-c", LIMIT_AND_SWITCH, ",".join(options), str(uid)]
        command += [str(gid), "--", *argv]
    else:
        command = ["prlimit", *options, "--", *argv]
    if ids is not None and command[0] == "prlimit":
        uid, gid = ids
        command = [
            "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *command,
        ]  # fmt: skip
    env = {"PATH": os.defpath, **confinement.env}
    how = method()
    if how == "bwrap":
        command = ["bwrap", *bwrap_options(confinement, cwd, env), "--", *command]
    else:
        command = ["env", "-i", *(f"{key}={value}" for key, value in env.items()), *command]
        if how == "unshare":
            command = ["unshare", *UNSHARE, *command]
    if confinement.cgroup is not None:  # join the cgroup first, so that nothing escapes it
        procs = shlex.quote(str(confinement.cgroup / "cgroup.procs"))
        command = ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *command]
    return command


LIMIT_AND_SWITCH = """\
import os, resource, sys
options, uid, gid, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
for option in options.split(","):
    name, value = option.lstrip("-").split("=")
    limit = getattr(resource, "RLIMIT_" + name.upper(), None)
    if limit is not None:
        resource.setrlimit(limit, (int(value), int(value)))
if gid != "-":
    os.setgroups([])
    os.setgid(int(gid))
if uid != "-":
    os.setuid(int(uid))
os.execvp(argv[0], argv)
"""
"""``prlimit`` and ``setpriv`` in Python, where util-linux is missing: limits, then the user."""


def rlimit_options(limits: Limits, count_processes: bool) -> list[str]:
    """``prlimit``'s options; processes by rlimit only where no cgroup counts them."""
    options = [
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--nofile={limits.open_files}",
        f"--fsize={limits.file_bytes}",
        "--core=0",
    ]
    if count_processes:
        options.append(f"--nproc={limits.processes}")  # per user: shared by its processes
    return options


def bwrap_options(confinement: Confinement, cwd: Path | None, env: Mapping[str, str]) -> list[str]:
    """Mounts in order: the system read-only, users' folders emptied, what is needed shown again,
    what is hidden emptied, the writable folder bound read-write."""
    options = list(BASE_BWRAP)
    size = str(confinement.limits.file_bytes)
    for folder in HIDDEN_ALWAYS:
        if folder.is_dir():
            options += ["--size", size, "--perms", "1777" if folder.name == "tmp" else "0755"]
            options += ["--tmpfs", str(folder)]
    visible = confinement.visible or needed_folders()
    for folder in sorted({Path(f).resolve() for f in visible}, key=lambda p: len(p.parts)):
        if folder.exists() and any(folder.is_relative_to(h) for h in HIDDEN_ALWAYS):
            options += [*reachable(folder), "--ro-bind", str(folder), str(folder)]
    shown = [Path(f).resolve() for f in visible] + [confinement.writable.resolve()]
    hidden = sorted({Path(f).resolve() for f in confinement.hidden}, key=lambda p: len(p.parts))
    for folder in hidden:
        if folder.is_dir() and not any(needed.is_relative_to(folder) for needed in shown):
            options += ["--size", "4096", "--perms", "0555", "--tmpfs", str(folder)]
    writable = confinement.writable.resolve()
    options += [*reachable(writable), "--bind", str(writable), str(writable), "--clearenv"]
    for key, value in env.items():
        options += ["--setenv", key, value]
    if cwd is not None:
        options += ["--chdir", str(cwd.resolve())]
    return options


def reachable(folder: Path) -> list[str]:
    """Options that make the folders leading to ``folder`` in an emptied one traversable (0755).

    bwrap creates missing mount points as 0700 root: another user could not reach a
    folder bound below them.
    """
    emptied = [h for h in HIDDEN_ALWAYS if folder.is_relative_to(h) and folder != h]
    if not emptied:
        return []
    parents = reversed(folder.relative_to(emptied[0]).parents[:-1])
    return [
        option
        for parent in parents
        for option in ("--perms", "0755", "--dir", str(emptied[0] / parent))
    ]


# --- before and after: the writable folder's owner, the cgroup, the clean-up ----------------------


@contextlib.contextmanager
def contained(confinement: Confinement) -> Iterator[Confinement]:
    """Prepare ``confinement`` (its folder's owner, a pids cgroup) and kill what is left at the end.

    Yields the confinement to pass to ``confined``: the same, with ``cgroup`` set where
    a pids cgroup could be made. On exit every process in that cgroup is killed (the
    kernel, and anything it started, ``setsid`` or double-forked) and the cgroup removed.
    """
    ids = user_ids(confinement.user)
    if ids is not None:
        give_to(confinement.writable, *ids)
    cgroup = make_cgroup(confinement.limits.processes)
    try:
        yield replace(confinement, cgroup=cgroup)
    finally:
        if cgroup is not None:
            kill_cgroup(cgroup)


def give_to(folder: Path, uid: int, gid: int) -> None:
    """``chown -R`` without following links: the confined user owns its copy, nothing else."""
    os.chown(folder, uid, gid, follow_symlinks=False)
    for root, folders, files in os.walk(folder):
        for name in [*folders, *files]:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def make_cgroup(processes: int) -> Path | None:
    """A new pids cgroup (v1) under this process's own, limited to ``processes``; None if none."""
    if os.geteuid() != 0 or not (PIDS_CGROUP / "cgroup.procs").exists():
        return None
    try:
        own = own_cgroup("pids")
        name = f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"  # see clean_up_after
        folder = PIDS_CGROUP / own.lstrip("/") / name
        folder.mkdir()
        (folder / "pids.max").write_text(str(processes))
        return folder
    except OSError:
        return None


def clean_up_after(pid: int) -> None:
    """Kill and remove the cgroups process ``pid`` made, if it died before it could.

    ``contained`` removes its cgroup when it ends; a process killed first (SIGKILL)
    cannot. Its parent, which knows its pid, calls this once it has reaped it.
    """
    if os.geteuid() != 0 or not (PIDS_CGROUP / "cgroup.procs").exists():
        return
    with contextlib.suppress(OSError):
        parent = PIDS_CGROUP / own_cgroup("pids").lstrip("/")
        for cgroup in parent.glob(f"{CGROUP_PREFIX}{pid}-*"):
            kill_cgroup(cgroup)


def own_cgroup(controller: str) -> str:
    """This process's cgroup path for ``controller`` (v1), from ``/proc/self/cgroup``."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise OSError(f"no {controller} cgroup")


def kill_cgroup(cgroup: Path, patience: float = 10.0) -> None:
    """SIGKILL every process in ``cgroup`` until none is left, then remove it.

    A killed process leaves its cgroup only once it has exited: ``rmdir`` is tried
    again until it works, for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return  # already gone
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            cgroup.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)


# --- in words -------------------------------------------------------------------------------------


def containment_report(user: str | int | None = None, limits: Limits = Limits()) -> list[str]:
    """What is and is not contained on this machine, one sentence a line (``--help``, TEACHING)."""
    how = method()
    if user is None:
        user = default_user()
    lines = []
    if how == "bwrap":
        lines.append(
            "bubblewrap: each kernel sees the system read-only, an empty /home, /root, /srv and "
            "/tmp, none of solutions/ or the submissions, and a private copy of its own folder, "
            "the only place it can write"
        )
        lines.append("its own processes only (pid namespace), loopback-only network, own IPC")
    elif how == "unshare":
        lines.append(
            "no bubblewrap (apt-get install bubblewrap): each kernel has its own pid, network "
            "(loopback only) and IPC namespaces, but sees the real files: only the user below "
            "and file permissions keep solutions/ and other submissions private"
        )
    else:
        lines.append(
            "NOT CONTAINED: no bubblewrap and no namespaces here: a kernel sees every file and "
            "process its user can, and the network"
        )
    if user is None:
        lines.append(
            "runs AS YOU (grade as root to run each kernel as nobody, or pass --user): it can "
            "read and change what you can"
        )
    else:
        lines.append(f"runs as user {user}, with no capabilities, on a private copy of its folder")
        if how != "bwrap":
            lines.append(
                f"user {user} must be able to read the Python environment and the course package"
            )
    lines.append(
        f"limits per process: {limits.cpu_seconds} s CPU, {limits.memory_bytes // MIB} MB "
        f"memory, {limits.open_files} open files, files up to {limits.file_bytes // MIB} MB"
    )
    if os.geteuid() == 0 and (PIDS_CGROUP / "cgroup.procs").exists():
        lines.append(
            f"at most {limits.processes} processes and threads per kernel (pids cgroup); every "
            "process it starts, setsid or not, is killed when its notebook is graded"
        )
    else:
        lines.append(
            f"at most {limits.processes} processes and threads per user"
            if user is not None
            else "processes not limited (no cgroup, and no user of its own to count them by)"
        )
        lines.append(
            "every process it starts is killed with its pid namespace when it ends"
            if how != "none"
            else "processes it starts in its own process group are killed; one that leaves the "
            "group (setsid) can outlive grading"
        )
    lines.append("not limited: disk space in its copy beyond the file size, CPU shared with others")
    return lines
