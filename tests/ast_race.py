"""`ast.parse` made atomic for the test session on CPython 3.11 before 3.11.8.

Those releases count the AST constructor's recursion depth in state the whole interpreter
shares (CPython gh-106905). The constructor is C code that keeps the GIL, except when one of
its allocations starts a garbage collection: the collection runs finalizers and weakref
callbacks, which are Python code, and there the thread can hand the GIL to another. If that
other thread calls `ast.parse` too, it resets the shared count, and the first call raises
`SystemError: AST constructor recursion depth mismatch` for a tree it built correctly.

The test session meets this: werkzeug calls `ast.parse` for every URL rule of every
`create_app`, and on 3.11 formatting a traceback calls `ast.parse` for its `^^^` lines. So a
background thread that logs an exception (a test app's request-log writer whose database a
finished test dropped) can fail another test's `create_app`. tests/unit/test_ast_race.py shows
the race and this guard.

The guard serialises `ast.parse` and holds off garbage collection until the parse returns, so
the constructor runs no Python code and no other thread runs inside it. Nothing is caught or
retried: every error is raised as the interpreter raises it. It is installed only on the
releases with the race, and only in the test process: the product's Docker image takes the
newest 3.11.
"""
from __future__ import annotations

import ast
import gc
import sys
import threading

FIXED_IN = (3, 11, 8)

_lock = threading.Lock()
_parse = ast.parse


def has_race(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> bool:
    return (3, 11) <= version[:2] < (3, 12) and version < FIXED_IN


def atomic_parse(*args, **kwargs):
    """`ast.parse`, with no garbage collection (so no other thread) while it builds the tree."""
    with _lock:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return _parse(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()


def install() -> bool:
    """Put `atomic_parse` in place of `ast.parse` where the interpreter has the race."""
    if not has_race():
        return False
    ast.parse = atomic_parse
    return True
