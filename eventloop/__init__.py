"""eventloop: an event loop built step by step, one module per chapter.

The stages, in course order:

    blocking        01  blocking UDP/TCP echo servers; a thread per client
    nonblocking     02  setblocking(False), EAGAIN, a busy polling loop
    select_loop     03  select(): wait for readiness instead of polling
    handlers        04  the post's EventHandler and event_loop, its bugs fixed
    error_report    04  an error a loop survives, told in one line: who, what, where
    udp             04  the post's UDP time and echo servers
    tcp             05  TCP connections: partial sends, EOF, resets, backpressure
    tcp_server      05  the listening socket: accept in batches, survive EMFILE
    framing         06  lines and length prefixes on a byte stream
    frame_budget    06  one budget for all unfinished frames; the largest holder is refused
    timers          07  call_later on a heap; select's timeout = next deadline
    threads         08  a thread pool and a self-pipe wake-up
    selectors_loop  09  poll/epoll via selectors, persistent registration
    handler_list    09  a list of handlers that tells its loop what changed
    readers         09  add_reader/add_writer: callbacks on descriptors, asyncio's vocabulary
    emfile          09  out of descriptors (EMFILE): pause a handler's reading, do not drop it
    coroutines      10  Future and Task: async/await on our own loop
    awaitables      10  sleep, socket operations, wait_for, gather, as coroutines
    aio             11  our loop as an asyncio event loop: asyncio programs run on it
    observe         12  debug mode, instruments, traces, a watchdog, fault injection

They form a tree, not a line: chapters 01-03 lead to ``handlers`` (the
EventHandler contract), and from there three branches grow.

    handlers (04) -> udp (04)                 the post's servers
                  -> tcp, tcp_server (05)     byte streams ...
                       -> framing, frame_budget (06)   ... then messages on them
                  -> timers (07)              the loop itself, as one object ...
                       -> threads (08)
                            -> selectors_loop, readers, emfile (09)
                                 -> coroutines, awaitables (10)
                                 -> aio (11)
                                      -> observe (12)

``selectors_loop`` runs ``tcp``'s and ``udp``'s handlers unchanged: a branch of
handlers meets the branch of loops there.

Seeing and checking what the loop did:

    recorder        every stage can record its iterations as plain data
    timeline_rows   a recording regrouped into rows of spans and markers: plain data
    timeline_marks  how one row is drawn: bars, readiness markers, captions where they fit
    timeline        the figure: the rows drawn with matplotlib, the axes, legend and highlight
    trace_events    a recording as a Chrome trace, for Perfetto (chapter 12)
    explorer        an ipywidgets slider over a recording's iterations
    experiments     the notebooks' measuring plumbing: a logged recv (01), a pausing list (08)
    checks          exercise checks that print a verdict and a hint
    grading         teacher tooling: run a class's notebooks, tabulate the signed verdicts
    student_text    students' names and outputs, made harmless in the table and the CSV

From a terminal: ``python -m eventloop --help``.

    cli             the entry point: one sub-command per module, run the one named
    cli_udp         serve (the post's UDP servers) and udp-echo (one server, any loop)
    cli_tcp         tcp-echo: chapter 05's TCP echo server, its backpressure shown
    cli_serving     what every server command shares: where it listens, which loop, until stopped
    cli_values      what the commands accept: bad values refused in one line
    cli_stop        Ctrl-C, SIGTERM and SIGHUP stop a server the same clean way
"""

from eventloop.framing import (
    KeyValueProtocol,
    KeyValueStore,
    LengthPrefixedProtocol,
    LineProtocol,
)
from eventloop.handler_list import HandlerList
from eventloop.handlers import EventHandler, StopLoop, event_loop
from eventloop.recorder import Recorder
from eventloop.select_loop import run_select_loop
from eventloop.selectors_loop import SelectorLoop
from eventloop.tcp import TCPConnection, TCPEchoConnection
from eventloop.tcp_server import TCPServer
from eventloop.threads import Loop, ThreadPoolHandler
from eventloop.timers import IdleTimeout, Periodic
from eventloop.udp import UDPEchoServer, UDPServer, UDPTimeServer

__all__ = [
    "EventHandler",
    "HandlerList",
    "IdleTimeout",
    "KeyValueProtocol",
    "KeyValueStore",
    "LengthPrefixedProtocol",
    "LineProtocol",
    "Loop",
    "Periodic",
    "Recorder",
    "SelectorLoop",
    "StopLoop",
    "TCPConnection",
    "TCPEchoConnection",
    "TCPServer",
    "ThreadPoolHandler",
    "UDPEchoServer",
    "UDPServer",
    "UDPTimeServer",
    "event_loop",
    "run_select_loop",
]
