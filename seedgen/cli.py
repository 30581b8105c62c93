"""The `seedgen` command: thin over the library API (one handler turns SeedgenError into exit 2)."""

from __future__ import annotations

import signal
import sys

import click

import seedgen
from seedgen.errors import ProviderError, SeedgenError
from seedgen.progress import setup_logging
from seedgen.sampler.model import TARGET_TEMPERATURE

EXIT_OK, EXIT_FAILED, EXIT_USER = 0, 1, 2


def _report(err: SeedgenError) -> int:
    click.echo(f"error: {err.one_line()}", err=True)
    return EXIT_FAILED if isinstance(err, ProviderError) else EXIT_USER


class _Group(click.Group):
    """Runs commands with one error policy: SeedgenError → one line on stderr, no traceback."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        # SIGTERM's default action skips every `finally`: turn it into an interrupt so child processes
        # (the embedded llama.cpp server) are stopped and journals flushed, as on Ctrl-C.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            rv = super().main(*args, **kwargs)
            sys.exit(rv if isinstance(rv, int) else EXIT_OK)
        except SeedgenError as e:
            sys.exit(_report(e))
        except click.exceptions.Abort:
            click.echo("interrupted: rerun the same command with --resume to continue", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("interrupted: rerun the same command with --resume to continue", err=True)
            sys.exit(130)
        except click.ClickException as e:
            e.show()
            sys.exit(EXIT_USER)


def _quiet(f):
    return click.option("--quiet", "-q", is_flag=True, help="No progress bars or info logs.")(f)


def _setup(quiet: bool) -> None:
    setup_logging(quiet=quiet)


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(seedgen.__version__, prog_name="seedgen")
def main() -> None:
    """Synthetic tables that keep a real table's statistics, rules and ML utility."""


@main.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="seeds.json to write.")
@click.option("--target", help="Target column for ML utility (kept out of LLM-written columns).")
@click.option("--clusters", default="auto", show_default=True, help="Number of KMeans clusters, or auto.")
@click.option(
    "--sampling-factor",
    type=float,
    default=1.0,
    show_default=True,
    help="Seed instructions per cluster, relative to its weight.",
)
@click.option("--drop", multiple=True, help="Column to leave out of clustering (repeatable).")
@click.option(
    "--target-temperature",
    type=float,
    default=TARGET_TEMPERATURE,
    show_default=True,
    help="Sharpness of the target's drawn classes: 1 draws them from the fitted probabilities; below 1 "
    "draws less noisy labels, which models trained on the rows learn better (docs/sampler.md).",
)
@click.option(
    "--examples",
    type=int,
    default=0,
    show_default=True,
    help="Real rows kept for few-shot prompts (0 keeps no real row in seeds.json).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@_quiet
def profile(data, output, target, clusters, sampling_factor, drop, target_temperature, examples, seed, quiet):
    """Profile DATA into seed instructions (seeds.json)."""
    _setup(quiet)
    seedgen.profile(
        data,
        output,
        target=target,
        clusters=clusters,
        sampling_factor=sampling_factor,
        drop=list(drop),
        target_temperature=target_temperature,
        examples=examples,
        seed=seed,
        quiet=quiet,
    )


@main.command()
@click.argument("seeds", type=click.Path(dir_okay=False))
@click.option("-n", "--rows", "n", type=int, required=True, help="Rows to write.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--provider",
    default="local",
    show_default=True,
    type=click.Choice(["local", "openai", "sds", "bedrock", "sampler"]),
)
@click.option("--model", help="Model id at the provider.")
@click.option("--base-url", help="Endpoint URL (openai-compatible servers, SDS).")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["llm", "hybrid", "sampler"]))
@click.option("--rows-per-request", type=int, default=None, help="Rows asked per LLM call.")
@click.option("--concurrency", type=int, default=4, show_default=True)
@click.option("--temperature", type=float, default=None)
@click.option(
    "--prompts", type=click.Path(file_okay=False), help="Folder of templates overriding the built-in ones."
)
@click.option(
    "--llm-column", "llm_columns", multiple=True, help="Extra column the LLM writes in hybrid mode."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its journal.")
@click.option(
    "--dry-run", is_flag=True, help="Render one prompt per cluster and estimate tokens; call nothing."
)
@click.option("--seed", type=int, default=0, show_default=True)
@_quiet
def synthesize(
    seeds,
    n,
    output,
    provider,
    model,
    base_url,
    mode,
    rows_per_request,
    concurrency,
    temperature,
    prompts,
    llm_columns,
    resume,
    dry_run,
    seed,
    quiet,
):
    """Generate N rows from SEEDS into OUTPUT."""
    _setup(quiet)
    seedgen.synthesize(
        seeds,
        n,
        output,
        provider=provider,
        model=model,
        base_url=base_url,
        mode=mode,
        rows_per_request=rows_per_request,
        concurrency=concurrency,
        temperature=temperature,
        prompts=prompts,
        llm_columns=list(llm_columns),
        resume=resume,
        dry_run=dry_run,
        seed=seed,
        quiet=quiet,
    )


@main.command(name="filter")
@click.argument("raw", type=click.Path(dir_okay=False))
@click.option("--seeds", required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--rejected", type=click.Path(dir_okay=False), help="Where rejected rows go, with _reasons.")
@click.option(
    "--rules", multiple=True, help="Rule pack name (lending) or path to a rules .py file (repeatable)."
)
@click.option(
    "--fix/--no-fix", default=True, show_default=True, help="Repair rows that fixable rules can repair."
)
@click.option("--judge/--no-judge", default=False, show_default=True, help="Score rows with an LLM judge.")
@click.option("--judge-provider", default="local", show_default=True)
@click.option("--judge-model", default=None)
@click.option("--judge-base-url", default=None)
@click.option("--threshold", type=float, default=8, show_default=True, help="Lowest judge score kept (1-10).")
@click.option("--keep-scores", is_flag=True, help="Keep the judge's score in a _judge_score column.")
@click.option(
    "--min-support",
    type=float,
    default=None,
    help="Discovered constraints below this support are not enforced.",
)
@click.option("--real", type=click.Path(dir_okay=False), help="Real table: reject exact copies of its rows.")
@_quiet
def filter_cmd(
    raw,
    seeds,
    output,
    rejected,
    rules,
    fix,
    judge,
    judge_provider,
    judge_model,
    judge_base_url,
    threshold,
    keep_scores,
    min_support,
    real,
    quiet,
):
    """Repair or reject the rows of RAW; write the accepted ones to OUTPUT."""
    _setup(quiet)
    seedgen.filter(
        raw,
        seeds,
        output,
        rejected=rejected,
        rules=list(rules),
        fix=fix,
        judge=judge,
        judge_provider=judge_provider,
        judge_model=judge_model,
        judge_base_url=judge_base_url,
        threshold=threshold,
        keep_scores=keep_scores,
        min_support=min_support,
        real=real,
        quiet=quiet,
    )


@main.command()
@click.argument("real", type=click.Path(dir_okay=False))
@click.argument("synthetic", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Report folder.")
@click.option("--holdout", type=click.Path(dir_okay=False), help="Real rows not used for fitting.")
@click.option("--target", help="Target column for train-synthetic-test-real.")
@click.option("--rules", multiple=True, help="Rule packs whose conformance to report.")
@click.option("--seed", type=int, default=0, show_default=True)
@_quiet
def evaluate(real, synthetic, output, holdout, target, rules, seed, quiet):
    """Score SYNTHETIC against REAL: fidelity, utility, detection, privacy."""
    _setup(quiet)
    seedgen.evaluate(
        real, synthetic, output, holdout=holdout, target=target, rules=list(rules), seed=seed, quiet=quiet
    )


@main.command()
@click.argument("real", type=click.Path(dir_okay=False))
@click.argument("synthetic", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--names", help="Comma-separated names, one per synthetic table.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False))
@click.option("--holdout", type=click.Path(dir_okay=False))
@click.option("--target")
@click.option("--rules", multiple=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_quiet
def compare(real, synthetic, names, output, holdout, target, rules, seed, quiet):
    """Score several synthetic tables side by side in one report."""
    _setup(quiet)
    seedgen.compare(
        real,
        list(synthetic),
        output,
        names=_split(names),
        holdout=holdout,
        target=target,
        rules=list(rules),
        seed=seed,
        quiet=quiet,
    )


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--resume", is_flag=True, help="Continue an interrupted run in its output folder.")
@_quiet
def run(pipeline, resume, quiet):
    """Run profile, synthesize, filter and evaluate from one PIPELINE.toml.

    Exits 1 when the [budget] was spent before `rows` rows passed (run.json: status "partial").
    """
    _setup(quiet)
    result = seedgen.run(pipeline, resume=resume, quiet=quiet)
    return EXIT_OK if result.complete else EXIT_FAILED


@main.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for pipeline.toml and my_rules.py.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@_quiet
def init(data, output, force, quiet):
    """Write a starter pipeline.toml and a rule-pack skeleton for DATA."""
    _setup(quiet)
    seedgen.init(data, output, force=force, quiet=quiet)


if __name__ == "__main__":  # pragma: no cover
    main()
