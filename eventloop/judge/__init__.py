"""The judge: exercise checks that run the learner's code outside the check's own process.

Why: a check that runs in the learner's interpreter can be fooled without
anyone meaning to (state kept between runs, a patched module) and forged by
anyone who means to. Here the learner's definitions run in a child process,
the candidate; the check's scenario, its clients and servers, and the verdict
stay in the judge, which trusts only what it observes.

    channel     the wire: framed messages, sockets handed over as descriptors, JSON answers
    agent       the candidate's side: runs the learner's code when asked, reports what happened
    candidate   the judge's side: start, call, observe from outside (CPU, runnable time, fds), kill
    trial       a judged check: generated cases in one candidate, and a verdict that says whose
                fault it is (the learner's code, the check itself, or nobody's)

Exercises judged this way so far: 1.1-1.3, 2.1-2.3, 3.1-3.3, 4.1-4.4, 5.4, 6.1-6.3 and 7.1
(``eventloop.checks.differential`` compares plain-value answers with a reference).
The others still run in the learner's process (``eventloop.checks.verdict``), the way
every check did before.
"""
