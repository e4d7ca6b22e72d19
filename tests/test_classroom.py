"""A class on a real JupyterHub, from hand-out to grades (``make test-classroom``).

It follows classroom/class.sh as a teacher would, on this machine: ``setup`` (the shared
environment from the hand-out's wheel, the nbgrader exchange, a teacher and three learners,
private homes), a JupyterHub from classroom/jupyterhub_config.py on free loopback ports,
``release`` of chapter 03 through nbgrader. Then, through the hub's REST API, it starts the
three learners' servers and, in each at the same time, through the server's contents and
kernel APIs: fetches the assignment, does that learner's part (one solves exercise 3.1, one
gets it wrong, one does nothing), runs chapter 00 and the exercise notebook, submits, and
tries to read what it must not. Then ``collect`` and ``grade``, ``autograde``, and the tables
are compared with what each learner did. Everything it made goes at the end: the hub (and with
it the proxy and the servers), the users and their homes, the class's folder.

It needs root (useradd, a hub that spawns as other users), /usr/bin/python3 or another python
every user can run, the hand-out (``make handout``) and PyPI and npm (JupyterHub, nbgrader,
configurable-http-proxy). It runs only under ``make test-classroom`` (EVENTLOOP_CLASSROOM=1):
it adds users to the machine, which ``make test`` must not do.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLASS_SH = ROOT / "classroom" / "class.sh"
NOFILE = 4096
START_TIMEOUT = 120.0
RUN_TIMEOUT = 400.0
CHAPTER = "03-select"
ASSIGNMENT = "ps1"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def why_not() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.environ.get("EVENTLOOP_CLASSROOM") != "1":
        return "adds users to this machine: run by `make test-classroom` (EVENTLOOP_CLASSROOM=1)"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root: it creates users (useradd) and a hub that spawns servers as them"
    for tool in ("useradd", "userdel", "groupadd", "runuser", "chpasswd"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    if shutil.which("configurable-http-proxy") is None and shutil.which("npm") is None:
        return "neither configurable-http-proxy nor npm (to install it) is here"
    if not list((ROOT / "dist").glob("eventloop_course-*.whl")):
        return "no hand-out: run `make handout` first"
    if not Path("/usr/bin/python3").exists():
        return "no /usr/bin/python3: a python every learner can run (set CLASS_PYTHON)"
    return None


if why_not():
    pytest.skip(why_not(), allow_module_level=True)


# --- the class --------------------------------------------------------------------------------


class Class:
    """The names, folders and settings of one test class; unique to this run."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.teacher = f"elt{tag}"
        self.learners = [f"el{tag}{who}" for who in ("ann", "bob", "cy")]
        self.group = f"elg{tag}"
        self.prefix = Path(tempfile.mkdtemp(prefix="eventloop-class-"))
        self.prefix.chmod(0o755)  # the learners' servers run from env/ under it
        self.token = uuid.uuid4().hex
        self.hub_url = ""

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "CLASS_PREFIX": str(self.prefix),
            "CLASS_TEACHER": self.teacher,
            "CLASS_LEARNERS": " ".join(self.learners),
            "CLASS_GROUP": self.group,
            "CLASS_NOFILE": str(NOFILE),
        }

    def run(self, *args: str, timeout: float = 600) -> str:
        """``class.sh ARGS``; its output, or the test fails with it."""
        done = subprocess.run(
            [str(CLASS_SH), *args], env=self.environ(), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, f"class.sh {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def processes_of(uid: int) -> list[int]:
    """Process ids owned by ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                pass
    return found


def resident_mb(uid: int) -> float:
    """Resident memory of ``uid``'s processes, in MB (VmRSS from /proc)."""
    total = 0
    for pid in processes_of(uid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total += sum(int(line.split()[1]) for line in status.splitlines()
                     if line.startswith("VmRSS:"))  # fmt: skip
    return total / 1024


# --- talking to the hub ---------------------------------------------------------------------


def call(cls: Class, method: str, path: str, body: object = None, raw: bool = False) -> object:
    """One request through the hub's proxy with the test's service token."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(cls.hub_url + path, data=data, method=method)
    request.add_header("Authorization", f"token {cls.token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as reply:
        text = reply.read().decode()
    if raw:
        return text
    return json.loads(text) if text else None


def status_of(cls: Class, path: str) -> int:
    try:
        call(cls, "GET", path, raw=True)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def wait_for(what: str, ready, timeout: float = START_TIMEOUT, every: float = 0.5):
    """Poll ``ready()`` until it returns something true (a hub has no push for this)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = ready()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def execute(cls: Class, user: str, code: str, timeout: float = RUN_TIMEOUT) -> str:
    """Run ``code`` in a new kernel of ``user``'s server (kernel websocket); its stdout."""
    from websockets.sync.client import connect

    kernel = call(cls, "POST", f"/user/{user}/api/kernels", {"name": "python3"})
    ws_url = cls.hub_url.replace("http://", "ws://", 1)
    ws_url += f"/user/{user}/api/kernels/{kernel['id']}/channels"
    msg_id = uuid.uuid4().hex
    request = {
        "header": {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip
    out, error, idle, replied = [], None, False, False
    try:
        with connect(ws_url, additional_headers={"Authorization": f"token {cls.token}"},
                     max_size=None, open_timeout=60) as ws:  # fmt: skip
            ws.send(json.dumps(request))
            deadline = time.monotonic() + timeout
            while not (idle and replied):
                message = json.loads(ws.recv(timeout=max(1.0, deadline - time.monotonic())))
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    error = f"{content['ename']}: {content['evalue']}"
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied = True
    finally:
        call(cls, "DELETE", f"/user/{user}/api/kernels/{kernel['id']}")
    assert error is None, f"{user}'s kernel: {error}\n{''.join(out)}"
    return "".join(out)


def log_in(cls: Class, user: str) -> urllib.request.OpenerDirector:
    """Give ``user`` a password (chpasswd) and log in through the hub's form; the browser."""
    password = f"class-{uuid.uuid4().hex[:12]}"
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(cls.hub_url + "/hub/login", timeout=30).read()
    xsrf = next(c.value for c in jar if c.name == "_xsrf")
    form = f"username={user}&password={password}&_xsrf={xsrf}".encode()
    with browser.open(cls.hub_url + "/hub/login?next=/hub/home", data=form, timeout=60) as page:
        assert "/hub/home" in page.url, f"{user} did not log in: {page.url}"
    return browser


def opens(browser: urllib.request.OpenerDirector, url: str) -> int:
    try:
        with browser.open(url, timeout=30) as page:
            return page.status
    except urllib.error.HTTPError as error:
        return error.code


# --- what each learner does -------------------------------------------------------------------


def solution_source(exercise: str) -> str:
    """The worked answer's cell for ``exercise`` (the test is the teacher: it may read it)."""
    notebook = nbformat.read(ROOT / "solutions" / f"{CHAPTER}.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if c.source.startswith(f"# Exercise {exercise}:")]
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "".join(line for line in cell.source.splitlines(keepends=True)
                   if line.strip() not in markers)  # fmt: skip


def answer(cls: Class, user: str, kind: str) -> None:
    """Edit the fetched exercise notebook through the contents API, as JupyterLab saves it."""
    path = f"/user/{user}/api/contents/{ASSIGNMENT}/{CHAPTER}.ipynb"
    model = call(cls, "GET", path)
    (cell,) = [c for c in model["content"]["cells"]
               if c["source"].startswith("# Exercise 3.1:")]  # fmt: skip
    if kind == "solves":
        cell["source"] = solution_source("3.1")
    elif kind == "wrong":  # a loop that says "readable" at once: the check's first case fails
        head = cell["source"].split("    # YOUR CODE HERE")[0]
        cell["source"] = head + "    return True\n"
    else:
        return
    call(cls, "PUT", path, {"type": "notebook", "format": "json", "content": model["content"]})


LEARNER_CODE = """
import json, os, resource, subprocess
def run(*args):
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return {"args": " ".join(args), "rc": done.returncode, "err": done.stderr[-1500:]}
steps = []
limits = resource.getrlimit(resource.RLIMIT_NOFILE)
steps.append(run("jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                 "event-loop-io/notebooks/00-start-here.ipynb"))
steps.append(run("jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                 "--allow-errors", "PS/CHAPTER.ipynb"))
steps.append(run("nbgrader", "submit", "PS"))
print(json.dumps({"steps": steps, "nofile": limits, "cwd": os.getcwd()}))
"""

PROBE_CODE = """
import json, os, eventloop, eventloop.grading.grade as grade
tried = {}
for path in PATHS:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").close()
        tried[path] = "read"
    except PermissionError:
        tried[path] = "denied"
    except FileNotFoundError:
        tried[path] = "missing"
print(json.dumps({"tried": tried, "package": eventloop.__file__,
                  "course_solutions": str(grade.course_solutions())}))
"""


def fetch(cls: Class, user: str) -> None:
    out = execute(cls, user, "import subprocess\n"
                  f"done = subprocess.run(['nbgrader', 'fetch_assignment', '{ASSIGNMENT}'], "
                  "capture_output=True, text=True, timeout=120)\n"
                  "print(done.returncode, done.stderr[-1000:])")  # fmt: skip
    assert out.startswith("0 "), f"{user}: nbgrader fetch_assignment: {out}"


def learner_session(cls: Class, user: str, kind: str, results: dict) -> None:
    """One learner: fetch, answer, run chapter 00 and the exercises, submit (a thread)."""
    try:
        fetch(cls, user)
        answer(cls, user, kind)
        code = LEARNER_CODE.replace("PS", ASSIGNMENT).replace("CHAPTER", CHAPTER)
        results[user] = json.loads(execute(cls, user, code).strip().splitlines()[-1])
    except BaseException as error:  # reported by the main thread
        results[user] = error


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture
def hub() -> Iterator[Class]:
    cls = Class()
    log = cls.prefix / "hub.log"
    process = None
    try:
        print(cls.run("setup"))
        ports = {name: free_port() for name in ("public", "hub", "api")}
        config = cls.prefix / "state" / "test_config.py"
        config.write_text(
            "c = get_config()  # noqa: F821\n"
            f"load_subconfig({str(ROOT / 'classroom' / 'jupyterhub_config.py')!r})  # noqa: F821\n"
            "c.JupyterHub.services = [{'name': 'classroom-test', "
            f"'api_token': {cls.token!r}}}]\n"
            "c.JupyterHub.load_roles = [{'name': 'classroom-test', 'services': ['classroom-test'],"
            " 'scopes': ['admin:users', 'admin:servers', 'access:servers', 'list:users',"
            " 'tokens']}]\n"
        )
        cls.hub_url = f"http://127.0.0.1:{ports['public']}"
        environ = {
            **cls.environ(),
            "CLASS_BIND_URL": cls.hub_url,
            "CLASS_HUB_BIND_URL": f"http://127.0.0.1:{ports['hub']}",
            "CLASS_PROXY_API_URL": f"http://127.0.0.1:{ports['api']}",
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(cls.prefix / "env" / "bin" / "jupyterhub"), "-f", str(config)],
                cwd=cls.prefix / "state", env=environ, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

        def hub_answers() -> object:
            if process.poll() is not None:  # a port taken since free_port(), a bad config
                raise AssertionError(f"the hub exited ({process.returncode}): see its log below")
            return call(cls, "GET", "/hub/api/")

        wait_for("the hub", hub_answers)
        yield cls
    finally:
        if process is not None:  # on SIGTERM JupyterHub stops every server, then its proxy
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if log.exists():
            print(log.read_text(errors="replace")[-6000:])
        left = {}
        for user in [*cls.learners, cls.teacher]:
            if user_exists(user):
                uid = pwd.getpwnam(user).pw_uid
                for pid in processes_of(uid):  # this test's servers and kernels, if any remain
                    left.setdefault(user, []).append(pid)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if user_exists(cls.teacher):
            subprocess.run([str(CLASS_SH), "remove-users"], env=cls.environ(), check=False)
        shutil.rmtree(cls.prefix, ignore_errors=True)
        assert not left, f"processes still running after the hub stopped: {left}"
        assert not any(user_exists(u) for u in [*cls.learners, cls.teacher]), "users remain"


def test_a_class_from_handout_to_grades(hub: Class) -> None:
    cls = hub
    ann, bob, cy = cls.learners
    did = {ann: "solves", bob: "wrong", cy: "nothing"}

    # Homes are private, the solutions are in the teacher's home only.
    for user in [*cls.learners, cls.teacher]:
        assert cls.home(user).stat().st_mode & 0o777 == 0o700, user
    cls.run("release", ASSIGNMENT, CHAPTER)

    # PAM: a learner and the teacher log in with their accounts' passwords (the login form);
    # the teacher is the hub's admin, the learner is not.
    learner, teacher = log_in(cls, ann), log_in(cls, cls.teacher)
    assert opens(teacher, cls.hub_url + "/hub/admin") == 200
    assert opens(learner, cls.hub_url + "/hub/admin") == 403

    # JupyterHub 5 and later ignore ?token= in a page's URL: a link with a learner's own token
    # leads to the login page (the same token in the Authorization header opens the API).
    mine = {"note": "a link", "scopes": ["read:users!user"]}
    token = call(cls, "POST", f"/hub/api/users/{ann}/tokens", mine)["token"]
    with urllib.request.urlopen(f"{cls.hub_url}/hub/home?token={token}", timeout=30) as page:
        assert "/hub/login" in page.url, page.url
    request = urllib.request.Request(f"{cls.hub_url}/hub/api/user")
    request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert json.loads(reply.read())["name"] == ann

    # The three servers, started through the hub's REST API, at once.
    call(cls, "POST", "/hub/api/users", {"usernames": [bob, cy]})  # ann exists: she logged in
    for user in cls.learners:
        call(cls, "POST", f"/hub/api/users/{user}/server")
    for user in cls.learners:
        wait_for(f"{user}'s server", lambda u=user: call(cls, "GET", f"/hub/api/users/{u}")
                 ["servers"].get("", {}).get("ready"))  # fmt: skip

    # nbgrader's pages and menus are not in a learner's JupyterLab.
    assert status_of(cls, f"/user/{ann}/formgrader") == 404
    lab = call(cls, "GET", f"/user/{ann}/lab", raw=True)
    page_config = json.loads(lab.split('id="jupyter-config-data" type="application/json">')[1]
                             .split("</script>")[0])  # fmt: skip
    assert "@jupyter/nbgrader" in page_config["disabledExtensions"], page_config

    # Each learner, at the same time: fetch, answer, run chapter 00 and the exercises, submit.
    results: dict[str, object] = {}
    threads = [threading.Thread(target=learner_session, args=(cls, u, did[u], results))
               for u in cls.learners]  # fmt: skip
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_TIMEOUT + 60)
    print(f"three learners, at once: {time.monotonic() - began:.0f} s")
    for user in cls.learners:  # what TEACHING.md's "plan 512 MB to 1 GB per learner" rests on
        print(f"{user}: {resident_mb(pwd.getpwnam(user).pw_uid):.0f} MB resident (server, idle)")
    for user in cls.learners:
        outcome = results.get(user)
        assert not isinstance(outcome, BaseException) and outcome, f"{user}: {outcome!r}"
        for step in outcome["steps"]:
            assert step["rc"] == 0, f"{user}: {step['args']} exited {step['rc']}:\n{step['err']}"
        assert outcome["nofile"] == [NOFILE, NOFILE], f"{user}: limit {outcome['nofile']}"
        assert outcome["cwd"] == str(cls.home(user))

    # What a learner must not read: another learner's work, the teacher's home and solutions,
    # the checkout's solutions through the installed package.
    for user in cls.learners:
        other = next(u for u in cls.learners if u != user)
        paths = [str(cls.home(other)), str(cls.home(other) / ASSIGNMENT / f"{CHAPTER}.ipynb"),
                 str(cls.home(cls.teacher)), str(cls.home(cls.teacher) / "solutions"),
                 str(cls.home(cls.teacher) / "solutions" / f"{CHAPTER}.ipynb"),
                 str(cls.prefix / "exchange" / "event-loop-io" / "inbound")]  # fmt: skip
        probe = json.loads(execute(cls, user, f"PATHS = {paths!r}\n" + PROBE_CODE).splitlines()[-1])
        assert set(probe["tried"].values()) == {"denied"}, f"{user} could: {probe['tried']}"
        assert probe["package"].startswith(str(cls.prefix / "env")), probe["package"]
        assert probe["course_solutions"] == "None", probe
    solutions = str(ROOT / "solutions")
    checkout = execute(cls, ann, f"import os; print(os.access({solutions!r}, os.R_OK))")
    if checkout.strip() == "True":  # the recipe keeps it in a 0700 home; a test clone may not be
        print(f"note: this checkout's solutions/ ({ROOT}) is readable by learners on this machine")
    env_files = [p for p in (cls.prefix / "env").rglob("*") if p.is_file() and p.suffix in
                 (".py", ".ipynb")]  # fmt: skip
    leaks = [p for p in env_files if "eventloop" in p.parts and b"### BEGIN SOLUTION\n" in
             p.read_bytes()]  # fmt: skip
    assert not leaks and not list((cls.prefix / "env").rglob("solutions")), leaks
    released = list((cls.prefix / "exchange" / "event-loop-io" / "outbound").rglob("*.ipynb"))
    assert released and not [p for p in released if b"BEGIN SOLUTION" in p.read_bytes()]

    # Collect and grade, the course's way: one folder per learner, as the teacher.
    print(cls.run("collect", ASSIGNMENT))
    table = cls.run("grade", "--jobs", "2")
    print(table)
    grades = list(csv.DictReader(io.StringIO((cls.home(cls.teacher) / "grades.csv").read_text())))
    by_student = {row["student"]: row for row in grades
                  if row.get("notebook") == f"{CHAPTER}.ipynb"}  # fmt: skip
    assert set(by_student) == set(cls.learners), grades
    expected_31 = {ann: "passed", bob: "failed", cy: "not attempted"}
    for user in cls.learners:
        row = by_student[user]
        assert row["3.1"].startswith(expected_31[user]), (user, row)
        for other in ("3.2", "3.3"):
            assert row[other].startswith("not attempted"), (user, other, row)

    # And nbgrader's: collect from the exchange, autograde, export.
    print(cls.run("autograde", ASSIGNMENT, timeout=600))
    exported = (cls.home(cls.teacher) / "course" / "grades.csv").read_text()
    rows = csv.DictReader(io.StringIO(exported))
    scores = {row["student_id"]: float(row["score"]) for row in rows
              if row["assignment"] == ASSIGNMENT}  # fmt: skip
    assert scores == {ann: 1.0, bob: 0.0, cy: 0.0}, exported
