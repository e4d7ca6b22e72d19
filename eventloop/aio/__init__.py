"""Stage 11: our loop *is* an asyncio event loop.

Grows from: chapter 09's ``SelectorLoop`` (and chapter 10's idea of a task
stepping a coroutine). Adds: ``EventLoop``, an ``asyncio.AbstractEventLoop``
whose engine is that loop, so that asyncio's own ``Future``, ``Task``,
``gather``, ``wait_for``, locks and queues run on it unmodified. It is not a
subclass of asyncio's ``BaseEventLoop`` or ``SelectorEventLoop``: every method
asyncio needs is written in ``eventloop/aio/``.

    loop        callbacks, timers, running and stopping, tasks, threads
    errors      the exception handler: how an error no one awaited is reported
    watching    debug mode, instruments and the recorder (chapter 12 uses them)
    sockets     sock_* methods, name lookups, what is not built yet
    transports  asyncio's stream transport, on chapter 05's TCPConnection
    clients     create_connection (happy eyeballs), connect_accepted_socket
    servers     create_server and asyncio's Server, with chapter 09's EMFILE back-off
    datagram    create_datagram_endpoint: the post's UDP servers as protocols
    runner      run(), new_event_loop() and run_in_thread(), on Python 3.10-3.13

Use it like asyncio::

    import eventloop.aio
    eventloop.aio.run(main())
"""

from eventloop.aio.loop import EventLoop
from eventloop.aio.runner import EventLoopPolicy, new_event_loop, run, run_in_thread

__all__ = ["EventLoop", "EventLoopPolicy", "new_event_loop", "run", "run_in_thread"]
