"""`seedgen run`: profile once, then synthesize and filter in rounds until exactly `rows` rows pass, then evaluate.

Why rounds: the filter rejects a share of generated rows that is only known after generating them, so one
batch of `rows` can't give `rows` accepted rows. Each round asks for the missing count divided by the
acceptance rate observed so far, plus a margin; it feeds the filter's most common rejection reasons back
into the next round's prompts ("avoid: ..."); and it keeps only as many accepted rows as are still missing,
so accepted.csv ends with exactly `rows` rows. A budget (rounds, requests, tokens) bounds the loop: when it
is spent first, the run ends 'partial' with a clear message, and --resume (perhaps with a larger budget)
continues it.

Crash safety: every round works in `rounds/NNN/` (synthesize journals there, so an interrupted synthesis
resumes), then is committed by appending to raw/accepted/rejected.csv and recording the new row counts in
run.json. On --resume, files longer than the recorded counts are cut back, so a crash between the two
never duplicates or loses an accepted row.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import pandas as pd

from seedgen.errors import ConfigError, SeedgenError, UserInputError
from seedgen.io import read_table, table_format, write_table
from seedgen.pipeline.config import PipelineConfig, load_config
from seedgen.pipeline.manifest import (
    MANIFEST_NAME,
    RoundRecord,
    RunManifest,
    load_manifest,
    now,
    save_manifest,
    versions,
)
from seedgen.progress import stderr

SEEDS, RAW, ACCEPTED, REJECTED, REPORT, ROUNDS = (
    "seeds.json", "raw.csv", "accepted.csv", "rejected.csv", "report", "rounds",
)  # fmt: skip
#: acceptance rate never assumed below this when sizing a round (else one bad round asks for millions)
MIN_RATE = 0.02
#: config keys that may change between a run and its --resume
RESUMABLE_CHANGES = {"budget", "margin"}


@dataclass
class RunResult:
    """What `seedgen.run` returns: where the run is, how it ended and its manifest."""

    folder: str
    status: str
    rows: int
    manifest: RunManifest

    @property
    def complete(self) -> bool:
        return self.status == "complete"


class _Say:
    """One progress line per step on stderr (the steps draw their own bars); silent when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            stderr.print(f"seedgen run: {msg}", markup=False, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- files


def _read_strings(path: str) -> pd.DataFrame:
    """A CSV exactly as written (every cell a string) so appending it elsewhere changes no format."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return pd.DataFrame()
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _count_rows(path: str) -> int:
    return len(_read_strings(path))


def _append(df: pd.DataFrame, path: str) -> None:
    if len(df) or not os.path.exists(path):
        write_table(df, path, append=True)


def _truncate(path: str, rows: int, name: str) -> None:
    """Cut a file back to its committed row count (undoes a round that crashed while committing)."""
    if rows == 0:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        return
    df = _read_strings(path)
    if len(df) < rows:
        raise UserInputError(
            f"{path}: has {len(df)} rows but run.json recorded {rows}; the run folder was changed",
            fix=f"restore {name} or start a new run without --resume",
        )
    if len(df) > rows:
        write_table(df.iloc[:rows], path)


# --------------------------------------------------------------------------- real data split


@contextlib.contextmanager
def _real_tables(cfg: PipelineConfig):
    """Yield (fit, holdout) paths: the real rows profiling sees, and those kept back for evaluation.

    The split (by `seed`, stratified on the target when it is a class label) is written to a private temp
    folder, never into the run folder, which may be shared: the run folder must hold no real row.
    """
    frac = cfg.evaluate.holdout_fraction
    if not frac:
        yield cfg.data, cfg.evaluate.holdout
        return
    from sklearn.model_selection import train_test_split

    table = read_table(cfg.data)
    parquet = table_format(cfg.data) == "parquet"
    if parquet:
        df = pd.read_parquet(cfg.data)
        df.columns = list(table.data.columns)
    else:
        df = pd.read_csv(
            cfg.data,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            sep=table.delimiter,
            encoding=table.encoding,
        )
        df.columns = list(table.data.columns)
    n_hold = round(len(df) * frac)
    if n_hold < 1 or len(df) - n_hold < 2:
        raise ConfigError(
            f"evaluate.holdout_fraction={frac} leaves no rows on one side of {len(df)} real rows",
            fix="use a larger table or holdout_fraction = 0",
        )
    target = cfg.eval_target
    stratify = None
    if target and target in df.columns:
        counts = df[target].value_counts()
        if 2 <= len(counts) <= 50 and counts.min() >= 2 and n_hold >= len(counts):
            stratify = df[target]
    fit, hold = train_test_split(df, test_size=n_hold, random_state=cfg.seed, stratify=stratify)
    ext = ".parquet" if parquet else ".csv"
    with tempfile.TemporaryDirectory(prefix="seedgen-real-") as tmp:
        # Named after the data so the report says which table these rows come from.
        stem = os.path.splitext(os.path.basename(cfg.data.removesuffix(".gz")))[0]
        fit_path = os.path.join(tmp, f"{stem}.profiled{ext}")
        hold_path = os.path.join(tmp, f"{stem}.holdout{ext}")
        write_table(fit.sort_index(), fit_path)
        write_table(hold.sort_index(), hold_path)
        yield fit_path, hold_path


# --------------------------------------------------------------------------- step results


def _stat(obj, *names: str) -> int:
    """A counter from a step's result, wherever it keeps it (attribute, or its provider stats)."""
    for holder in (obj, getattr(obj, "stats", None), getattr(obj, "usage", None)):
        if holder is None:
            continue
        for name in names:
            v = holder.get(name) if isinstance(holder, dict) else getattr(holder, name, None)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return int(v)
    return 0


def _reasons(fres) -> dict[str, int]:
    reasons = getattr(fres, "reasons", None)
    if isinstance(reasons, dict):
        return {str(k): int(v) for k, v in reasons.items() if isinstance(v, int | float)}
    return {}


def _ask(cfg: PipelineConfig, m: RunManifest, need: int) -> int:
    """Rows to generate next: the missing count over the acceptance rate seen so far, plus the margin."""
    t = m.totals
    passed = t.accepted + t.surplus
    rate = 1.0 if t.generated == 0 else max((passed + 0.5) / (t.generated + 1), MIN_RATE)
    ask = math.ceil(round(need / rate * (1 + cfg.margin), 6)) + (1 if cfg.margin else 0)
    return max(ask, need)


def _budget_spent(cfg: PipelineConfig, m: RunManifest) -> str | None:
    b, t = cfg.budget, m.totals
    done = sum(r.status == "done" for r in m.rounds)
    if done >= b.max_rounds:
        return f"max_rounds={b.max_rounds} reached"
    if b.max_requests is not None and t.all_requests >= b.max_requests:
        return f"max_requests={b.max_requests} reached ({t.all_requests} requests made)"
    if b.max_tokens is not None and t.tokens >= b.max_tokens:
        return f"max_tokens={b.max_tokens} reached ({t.tokens} tokens used)"
    return None


# --------------------------------------------------------------------------- steps


def _profile(cfg: PipelineConfig, m: RunManifest, folder: str, fit_path: str, say: _Say) -> None:
    from seedgen.profiling import profile

    step = m.step("profile")
    seeds_path = os.path.join(folder, SEEDS)
    if step.status == "done" and os.path.exists(seeds_path):
        say("profile: done already (seeds.json)")
        return
    say(f"profile: {os.path.basename(cfg.data)}" + (" (holdout kept back)" if fit_path != cfg.data else ""))
    step.status, step.started = "running", now()
    save_manifest(m, folder)
    t0 = time.perf_counter()
    p = cfg.profile
    seeds = profile(
        fit_path, seeds_path, target=p.target, clusters=p.clusters, sampling_factor=p.sampling_factor,
        drop=list(p.drop), target_temperature=p.target_temperature, examples=p.examples, seed=cfg.seed,
        quiet=say.quiet,
    )  # fmt: skip
    step.seconds = round(time.perf_counter() - t0, 3)
    step.status = "done"
    step.detail = {
        "real_rows": seeds.source.rows,
        "columns": len(seeds.columns),
        "clusters": len(seeds.clusters),
        "constraints": len(seeds.rules),
    }
    save_manifest(m, folder)


def _synthesize_round(
    cfg: PipelineConfig, m: RunManifest, rnd: RoundRecord, rdir: str, folder: str, say: _Say
) -> None:
    from seedgen.synthesis import synthesize
    from seedgen.synthesis.journal import journal_path

    raw = os.path.join(rdir, RAW)
    if os.path.exists(raw) and not os.path.exists(journal_path(raw)):
        # Synthesis finished (it removes its journal last) but the crash came before run.json said so.
        rnd.generated = _count_rows(raw)
        return
    # A journal in the round folder is an interrupted synthesis: continue it.
    resume = os.path.exists(journal_path(raw))
    os.makedirs(rdir, exist_ok=True)
    s = cfg.synthesize
    t0 = time.perf_counter()
    res = synthesize(
        os.path.join(folder, SEEDS), rnd.asked, raw,
        provider=s.provider, model=s.model, base_url=s.base_url, mode=s.mode,
        rows_per_request=s.rows_per_request, concurrency=s.concurrency, temperature=s.temperature,
        prompts=s.prompts, llm_columns=list(s.llm_columns), resume=resume, seed=rnd.seed,
        quiet=say.quiet, avoid=list(rnd.avoid) or None,
        **({"provider_options": dict(s.provider_options)} if s.provider_options else {}),
    )  # fmt: skip
    rnd.synthesize_seconds = round(time.perf_counter() - t0, 3)
    rnd.requests = _stat(res, "requests")
    rnd.input_tokens = _stat(res, "input_tokens", "prompt_tokens")
    rnd.output_tokens = _stat(res, "output_tokens", "completion_tokens")
    rnd.generated = _count_rows(raw)
    m.provider = getattr(res, "provider", None) or m.provider
    model = getattr(res, "model", None)
    m.model = model if isinstance(model, str) and model else m.model


def _filter_round(
    cfg: PipelineConfig, m: RunManifest, rnd: RoundRecord, rdir: str, folder: str, real, say: _Say
):
    from seedgen.filtering import filter_rows

    f = cfg.filter
    t0 = time.perf_counter()
    fres = filter_rows(
        os.path.join(rdir, RAW), os.path.join(folder, SEEDS), os.path.join(rdir, ACCEPTED),
        rejected=os.path.join(rdir, REJECTED), rules=list(f.rules), fix=f.fix, judge=f.judge,
        judge_provider=f.judge_provider, judge_model=f.judge_model, judge_base_url=f.judge_base_url,
        threshold=f.threshold, keep_scores=f.keep_scores, min_support=f.min_support,
        real=real, quiet=say.quiet,
    )  # fmt: skip
    rnd.filter_seconds = round(time.perf_counter() - t0, 3)
    rnd.reasons = _reasons(fres)
    rnd.feedback = [str(x) for x in (getattr(fres, "feedback", None) or [])][:10]
    return fres


def _commit_round(
    cfg: PipelineConfig, m: RunManifest, rnd: RoundRecord, rdir: str, folder: str, fres
) -> None:
    """Append the round to the run's files, keeping only the accepted rows still missing, then record it."""
    raw = _read_strings(os.path.join(rdir, RAW))
    acc = _read_strings(os.path.join(rdir, ACCEPTED))
    rej = _read_strings(os.path.join(rdir, REJECTED))
    need = cfg.rows - m.committed.accepted
    keep = acc.iloc[:need]
    _append(raw, os.path.join(folder, RAW))
    _append(keep, os.path.join(folder, ACCEPTED))
    _append(rej, os.path.join(folder, REJECTED))
    rnd.generated, rnd.accepted, rnd.kept, rnd.rejected = len(raw), len(acc), len(keep), len(rej)
    rnd.surplus = len(acc) - len(keep)
    judge = getattr(fres, "judge_stats", None) or getattr(fres, "judge", None)
    t = m.totals
    t.generated += rnd.generated
    t.accepted += rnd.kept
    t.surplus += rnd.surplus
    t.rejected += rnd.rejected
    t.requests += rnd.requests
    t.input_tokens += rnd.input_tokens
    t.output_tokens += rnd.output_tokens
    if judge is not None:
        t.judge_requests += _stat(judge, "requests", "calls")
        t.judge_input_tokens += _stat(judge, "input_tokens")
        t.judge_output_tokens += _stat(judge, "output_tokens")
    for k, v in rnd.reasons.items():
        m.reasons[k] = m.reasons.get(k, 0) + v
    m.committed.raw += len(raw)
    m.committed.accepted += len(keep)
    m.committed.rejected += len(rej)
    rnd.status = "done"
    save_manifest(m, folder)
    shutil.rmtree(rdir, ignore_errors=True)


def _rounds(cfg: PipelineConfig, m: RunManifest, folder: str, say: _Say) -> str | None:
    """Synthesize and filter until `rows` rows are accepted; return why it stopped early, or None."""
    real = None  # the whole real table (holdout included) for the copy check, read once
    while m.committed.accepted < cfg.rows:
        rnd = m.rounds[-1] if m.rounds and m.rounds[-1].status == "running" else None
        if rnd is None:
            spent = _budget_spent(cfg, m)
            if spent:
                return spent
            need = cfg.rows - m.committed.accepted
            last = next((r.feedback for r in reversed(m.rounds) if r.feedback), [])
            idx = len(m.rounds) + 1
            rnd = RoundRecord(index=idx, asked=_ask(cfg, m, need), seed=cfg.seed * 1000 + idx, avoid=last)
            m.rounds.append(rnd)
            m.seeds[f"round_{idx}"] = rnd.seed
            save_manifest(m, folder)
        rdir = os.path.join(folder, ROUNDS, f"{rnd.index:03d}")
        need = cfg.rows - m.committed.accepted
        say(f"round {rnd.index}: generating {rnd.asked} rows for the {need} still missing")
        if rnd.generated == 0:
            _synthesize_round(cfg, m, rnd, rdir, folder, say)
            save_manifest(m, folder)
        if cfg.filter.copy_check and real is None:
            real = read_table(cfg.data).data
        fres = _filter_round(cfg, m, rnd, rdir, folder, real, say)
        _commit_round(cfg, m, rnd, rdir, folder, fres)
        rate = rnd.accepted / rnd.generated if rnd.generated else 0.0
        top = ", ".join(f"{k} ({v})" for k, v in sorted(rnd.reasons.items(), key=lambda kv: -kv[1])[:3])
        say(
            f"round {rnd.index}: {rnd.accepted}/{rnd.generated} passed ({rate:.0%}); "
            f"{m.committed.accepted}/{cfg.rows} rows accepted" + (f"; top rejections: {top}" if top else "")
        )
    return None


def _evaluate(
    cfg: PipelineConfig, m: RunManifest, folder: str, fit_path: str, holdout: str | None, say: _Say
):
    step = m.step("evaluate")
    if cfg.evaluate.skip:
        step.status = "skipped"
        return
    if m.committed.accepted == 0:
        step.status, step.detail = "skipped", {"reason": "no accepted rows"}
        say("evaluate: skipped, no accepted rows")
        return
    if (
        step.status == "done"
        and step.detail.get("rows") == m.committed.accepted
        and os.path.isdir(os.path.join(folder, REPORT))
    ):
        say("evaluate: done already (report/)")
        return
    from seedgen.evaluation import evaluate

    say(
        f"evaluate: {m.committed.accepted} accepted rows against the real data"
        + (" and holdout" if holdout else "")
    )
    step.status, step.started = "running", now()
    save_manifest(m, folder)
    t0 = time.perf_counter()
    metrics = evaluate(
        fit_path, os.path.join(folder, ACCEPTED), os.path.join(folder, REPORT), holdout=holdout,
        target=cfg.eval_target, rules=cfg.eval_rules, seed=cfg.seed, quiet=say.quiet,
    )  # fmt: skip
    step.seconds = round(time.perf_counter() - t0, 3)
    step.status = "done"
    step.detail = {
        "rows": m.committed.accepted,
        "report": os.path.join(REPORT, "report.html"),
        "headline": _headline(metrics),
    }
    m.seeds["evaluate"] = cfg.seed
    save_manifest(m, folder)


def _headline(metrics) -> dict[str, float | None]:
    """The report's headline scores (value only) for run.json; empty if the metrics don't offer them."""
    try:
        return {k: getattr(v, "value", v) for k, v in metrics.headline().items()}
    except Exception:  # the report is written either way; the manifest just lacks the summary
        return {}


# --------------------------------------------------------------------------- entry point


def _config_dump(cfg: PipelineConfig) -> dict:
    return cfg.model_dump(mode="json")


def _check_same_config(cfg: PipelineConfig, m: RunManifest, pipeline: str) -> None:
    new = _config_dump(cfg)
    changed = sorted(
        k for k in set(new) | set(m.config) if k not in RESUMABLE_CHANGES and new.get(k) != m.config.get(k)
    )
    if changed:
        raise ConfigError(
            f"{pipeline}: cannot resume: {', '.join(changed)} changed since the run started "
            f"(only {', '.join(sorted(RESUMABLE_CHANGES))} may change)",
            fix="restore the old values, or start a new run in another output folder",
        )


def _start(cfg: PipelineConfig, pipeline: str, folder: str, resume: bool, say: _Say) -> RunManifest:
    has_manifest = os.path.exists(os.path.join(folder, MANIFEST_NAME))
    if resume and has_manifest:
        m = load_manifest(folder)
        _check_same_config(cfg, m, pipeline)
        m.config = _config_dump(cfg)
        m.resumed += 1
        m.status, m.message = "running", None
        _truncate(os.path.join(folder, RAW), m.committed.raw, RAW)
        _truncate(os.path.join(folder, ACCEPTED), m.committed.accepted, ACCEPTED)
        _truncate(os.path.join(folder, REJECTED), m.committed.rejected, REJECTED)
        for r in m.rounds:  # a committed round whose folder survived a crash
            if r.status == "done":
                shutil.rmtree(os.path.join(folder, ROUNDS, f"{r.index:03d}"), ignore_errors=True)
        say(f"resuming {folder}: {m.committed.accepted}/{cfg.rows} rows accepted so far")
        return m
    if os.path.isdir(folder) and os.listdir(folder):
        if resume:
            raise UserInputError(
                f"{folder}: not a seedgen run folder (no {MANIFEST_NAME}), cannot resume",
                fix="choose another `output` in the pipeline file",
            )
        raise UserInputError(
            f"{folder}: the run folder already exists and is not empty",
            fix="add --resume to continue that run, or delete it, or set another `output`",
        )
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserInputError(f"{folder}: exists and is not a folder", fix="set another `output`")
    os.makedirs(folder, exist_ok=True)
    m = RunManifest(
        pipeline=os.path.abspath(pipeline), config=_config_dump(cfg), versions=versions(),
        seeds={"profile": cfg.seed, "holdout_split": cfg.seed}, provider=cfg.synthesize.provider,
        model=cfg.synthesize.model, rows_requested=cfg.rows, started=now(),
    )  # fmt: skip
    save_manifest(m, folder)
    return m


def run_pipeline(pipeline: str | os.PathLike, *, resume: bool = False, quiet: bool = False) -> RunResult:
    """Run every step of pipeline.toml into its output folder; see the module docstring."""
    pipeline = str(pipeline)
    cfg = load_config(pipeline)
    say = _Say(quiet)
    folder = cfg.output
    m = _start(cfg, pipeline, folder, resume, say)
    t0 = time.perf_counter()
    base_seconds = m.seconds
    try:
        with _real_tables(cfg) as (fit_path, holdout):
            _profile(cfg, m, folder, fit_path, say)
            stopped = _rounds(cfg, m, folder, say)
            _evaluate(cfg, m, folder, fit_path, holdout, say)
    except (Exception, KeyboardInterrupt) as e:
        m.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        m.message = e.one_line() if isinstance(e, SeedgenError) else f"{type(e).__name__}: {e}".strip(": ")
        if isinstance(e, KeyboardInterrupt):
            m.message = "interrupted; rerun with --resume to continue"
        m.seconds = round(base_seconds + time.perf_counter() - t0, 3)
        save_manifest(m, folder)
        raise
    with contextlib.suppress(OSError):
        os.rmdir(os.path.join(folder, ROUNDS))
    m.seconds = round(base_seconds + time.perf_counter() - t0, 3)
    if stopped:
        m.status = "partial"
        m.message = (
            f"budget spent ({stopped}) with {m.committed.accepted}/{cfg.rows} rows accepted; "
            "raise [budget] in the pipeline file and rerun with --resume to continue"
        )
        stderr.print(f"seedgen run: {m.message}", markup=False, highlight=False, soft_wrap=True)
    else:
        m.status, m.message = "complete", f"{cfg.rows} rows accepted"
        say(
            f"done in {m.seconds:.0f}s: {cfg.rows} rows in {os.path.join(folder, ACCEPTED)}"
            + (
                f", report in {os.path.join(folder, REPORT, 'report.html')}"
                if m.steps["evaluate"].status == "done"
                else ""
            )
        )
    save_manifest(m, folder)
    return RunResult(folder=folder, status=m.status, rows=m.committed.accepted, manifest=m)
