"""The crash-safety journal: accepted rows are appended (and fsync'd) as they arrive.

`<output>.journal.jsonl` holds one header line with the run's settings and their hash, then one record per
accepted chunk: `{"batch": b, "slots": [i, ...], "rows": [[value, ...], ...]}`. A slot is a row position
0..n-1 of the final output, so a resumed run knows exactly which rows are still missing: none is lost and
none is written twice. A row holds the validated values of the columns the LLM wrote (JSON scalars, dates
in ISO form); the sampled rest of the row is redrawn identically from the seed on resume.

Records are written by one group-commit flusher: concurrent batches queue their records, the flusher
writes all that are waiting and fsyncs once, and each batch counts its rows as done only after that fsync.
A torn last line (the process died mid-write) is dropped on resume; anything else unreadable is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from typing import Any

from seedgen.errors import UserInputError

log = logging.getLogger("seedgen")

FORMAT = "seedgen-journal"
VERSION = 1


def journal_path(output: str | os.PathLike) -> str:
    return str(output) + ".journal.jsonl"


def settings_hash(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Journal:
    """An append-only, fsync'd record of accepted rows for one synthesize run."""

    def __init__(self, path: str, settings: dict[str, Any]):
        self.path = path
        self.settings = settings
        self.hash = settings_hash(settings)
        self.rows: dict[int, list[Any]] = {}  # slot → rendered values, everything durable so far
        self._fh = None
        self._queue: list[tuple[str, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    # ------------------------------------------------------------------ opening

    def open(self, *, resume: bool) -> int:
        """Create the journal, or (resume) read the existing one; return the number of rows recovered."""
        exists = os.path.exists(self.path)
        if exists and not resume and not self._has_rows():
            log.info("%s holds no accepted rows: starting over", self.path)
            exists = False
        if exists and not resume:
            raise UserInputError(
                f"{self.path} exists: an earlier run with this output was interrupted",
                fix="pass --resume to continue it, or delete the journal to start over",
            )
        if not exists:
            if resume:
                log.info("nothing to resume (%s not found): starting a new run", self.path)
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the run
            self._write_header()
            return 0
        good_bytes = self._read_existing()
        # cut a torn last line so new records start on a line of their own
        with open(self.path, "r+b") as fh:
            fh.truncate(good_bytes)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        if good_bytes == 0:  # died before the header was durable: nothing was recorded
            self._write_header()
        return len(self.rows)

    def _has_rows(self) -> bool:
        """Whether the journal records any accepted row (more than its header line)."""
        with open(self.path, "rb") as fh:
            fh.readline()
            return any(line.strip() for line in fh)

    def _write_header(self) -> None:
        head = {"format": FORMAT, "version": VERSION, "settings_hash": self.hash, "settings": self.settings}
        self._fh.write(json.dumps(head, default=str) + "\n")
        self._sync()

    def _read_existing(self) -> int:
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        offset = 0
        for lineno, raw in enumerate(lines, start=1):
            complete = lineno < len(lines)  # the last piece has no newline: maybe torn
            if not raw.strip():
                offset += len(raw) + (1 if complete else 0)
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if not complete:
                    log.warning("%s: dropped a torn last record (the run died while writing it)", self.path)
                    return offset
                raise UserInputError(
                    f"{self.path}: line {lineno} is not valid JSON: the journal is damaged",
                    fix="delete the journal to start over",
                ) from None
            if lineno == 1:
                self._check_header(rec)
            else:
                self._load_record(rec, lineno)
            offset += len(raw) + (1 if complete else 0)
        return offset

    def _check_header(self, head: Any) -> None:
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise UserInputError(
                f"{self.path}: not a seedgen journal", fix="delete it or choose another output"
            )
        if head.get("settings_hash") == self.hash:
            return
        old = head.get("settings") or {}
        diff = [
            f"{k} {old.get(k)!r} → {self.settings.get(k)!r}"
            for k in sorted(set(old) | set(self.settings))
            if old.get(k) != self.settings.get(k)
        ]
        raise UserInputError(
            f"{self.path} belongs to a different run ({'; '.join(diff[:4]) or 'settings differ'})",
            fix="resume with the original settings, or delete the journal to start over",
        )

    def _load_record(self, rec: Any, lineno: int) -> None:
        try:
            slots, rows = rec["slots"], rec["rows"]
            int(rec["batch"])
            if len(slots) != len(rows):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise UserInputError(
                f"{self.path}: line {lineno} is not a journal record", fix="delete the journal to start over"
            ) from None
        for slot, row in zip(slots, rows, strict=True):
            # a slot written twice cannot happen in one run; keep the first if a user merged files
            self.rows.setdefault(int(slot), row)

    # ------------------------------------------------------------------ writing

    async def append(self, batch: int, slots: list[int], rows: list[list[Any]]) -> None:
        """Durably record accepted rows; returns once they are fsync'd."""
        line = json.dumps({"batch": batch, "slots": slots, "rows": rows}, ensure_ascii=False)
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((line, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await fut
        for slot, row in zip(slots, rows, strict=True):
            self.rows[slot] = row

    async def _flush(self) -> None:
        while self._queue:
            pending, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._write, [line for line, _ in pending])
            except OSError as e:
                for _, fut in pending:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            for _, fut in pending:
                if not fut.done():
                    fut.set_result(None)

    def _write(self, lines: list[str]) -> None:
        self._fh.write("".join(line + "\n" for line in lines))
        self._sync()

    def _sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
