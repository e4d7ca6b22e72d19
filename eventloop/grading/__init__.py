"""Grading a class: teacher tooling, not a stage of the loop.

``python -m eventloop grade submissions/`` runs every exercise notebook it finds
(one folder per student), each in a fresh kernel, and prints a table of the
verdicts, optionally a CSV. The modules, in the order a notebook meets them:

    grade       grade each notebook in its own worker process, the command
    submissions what was handed in: the notebooks, links, copies, files not to read
    files       regular files only, read bounded; a kernel's private copy of its folder
    ports       fixed ports found in the code before anything runs (pitfall 13)
    kernel      run one notebook in a kernel, with the grader's own first cell
    sandbox     the kernel confined: another user, one writable folder, no view, limits
    results     what happened to each exercise, read from the signed verdicts
    worker      one notebook graded in a process of its own, in its own session
    report      the table and the CSV (written as we go), missing notebooks, totals
    command     the ``grade`` sub-command's options and help
    nbgrader_stubs  for nbgrader instead: its generate_assignment writing the course's stubs

Why grades can be trusted, and how far: see ``eventloop.checks.record``. The
grader counts only the verdicts the course's checks signed, never the lines a
notebook prints. Each kernel runs confined (``sandbox``); the ``--help`` text and
TEACHING.md say what that contains on a given machine, and what it does not.
"""
