"""Progress bars and logging on stderr, silenced by --quiet; data never goes to stderr and logs never to stdout."""

from __future__ import annotations

import contextlib
import logging
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

log = logging.getLogger("seedgen")
_state = {"quiet": False}
stderr = Console(stderr=True)


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    _state["quiet"] = quiet
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    log.setLevel(level)
    if not any(getattr(h, "_seedgen", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._seedgen = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False


def is_quiet() -> bool:
    return _state["quiet"]


class _NullProgress:
    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


@contextlib.contextmanager
def progress(quiet: bool | None = None, *extra_columns):
    """A rich progress bar on stderr, or a no-op when quiet or not attached to a terminal-like stream."""
    if quiet if quiet is not None else is_quiet():
        yield _NullProgress()
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
    )
    with bar:
        yield bar
