"""Quality benchmark: seedgen's sampler against a Gaussian mixture, sequential CART, SDV's GaussianCopula
and a real holdout (the ceiling), on a 70/30 split of the example tables.

    python benchmarks/quality_bench.py [--data loans|credit|all] [--skip-sdv] [--seedgen-only] [--rows N]
                                       [--draws K] [--splits S] [--out DIR]

Each generator is fitted on the 70 % part and draws as many rows; `seedgen.evaluation.compare` scores every
set against the training rows with the 30 % holdout (detection AUC, shape, pairs, TSTR/TRTR, DCR share,
exact copies, rule conformance). The sampler rows go through the filter (`check_rows` with the `lending`
rule pack and fixes) as in `seedgen synthesize --mode sampler` + `seedgen filter`. SDV runs in its own
virtualenv (SDV pins pandas < 3): set SEEDGEN_SDV_PYTHON to its python (default benchmarks/.venv-sdv/bin/python, made with `python -m venv benchmarks/.venv-sdv && benchmarks/.venv-sdv/bin/pip install torch==2.13.0 sdv`).
Prints one markdown table per data set; paste it into benchmarks/RESULTS.md. With `--splits S`, the whole
run repeats on S different 70/30 splits (seeds 0..S-1) and a last table gives each generator's mean and
range over every split and draw: one split's TSTR/TRTR moves by ±0.02 with the split alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from baselines.cart import SequentialCartBaseline  # noqa: E402
from baselines.gmm import GaussianMixtureBaseline  # noqa: E402

from seedgen.io import read_table  # noqa: E402
from seedgen.schema import coerce, infer_schema, render  # noqa: E402

DATA = {
    "loans": (ROOT / "examples/lending_club/lending_club_loans.csv", ["homeownership", "grade_in_AB"]),
    "credit": (ROOT / "examples/credit_minority/lending_club_credit.csv", ["Class"]),
}
SDV_PYTHON = os.environ.get(
    "SEEDGEN_SDV_PYTHON",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv-sdv", "bin", "python"),
)
_SDV_SCRIPT = """
import sys, pandas as pd
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
train = pd.read_csv(sys.argv[1])
md = Metadata.detect_from_dataframes({"table": train})
syn = GaussianCopulaSynthesizer(md)
syn.fit({"table": train})  # SDV 2 takes and returns {table name: frame}
out = syn.sample(int(sys.argv[3]))
out = next(iter(out.values())) if isinstance(out, dict) else out
out.to_csv(sys.argv[2], index=False)
"""


def split(path: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(raw))
    cut = int(0.7 * len(raw))
    return raw.iloc[np.sort(idx[:cut])].reset_index(drop=True), raw.iloc[np.sort(idx[cut:])].reset_index(
        drop=True
    )


def profile_train(train_csv: str, seed: int, target: str | None = None):
    """Seeds for the training part: `seedgen profile` when it exists, else schema + KMeans + sampler only."""
    try:
        from seedgen.profiling import profile

        return profile(train_csv, target=target, seed=seed, quiet=True), "profile"
    except ImportError as e:
        print(f"# seedgen.profiling not available ({e}); fitting the sampler without discovered rules")
    from sklearn.cluster import KMeans

    from seedgen.sampler.fit import fit_sampler
    from seedgen.seeds import ProfileSettings, SeedFile, SourceInfo

    table = read_table(train_csv)
    cols = infer_schema(table)
    df = coerce(table.data, cols)
    num = df.select_dtypes("number").fillna(0)
    labels = KMeans(4, random_state=seed, n_init=3).fit_predict((num - num.mean()) / (num.std() + 1e-9))
    model = fit_sampler(df, cols, labels, [], seed=seed)
    src = SourceInfo(file=train_csv, rows=len(df), columns=len(cols))
    return SeedFile(source=src, settings=ProfileSettings(), columns=cols, clusters=[], sampler=model), "local"


def sampler_rows(seeds, n: int, seed: int, rules: list[str]) -> tuple[pd.DataFrame, dict]:
    """Sampler rows after the filter's rules and fixes (rows failing a rule are dropped, more drawn)."""
    from seedgen.sampler.draw import sample_rows

    info: dict = {}
    t0 = time.perf_counter()
    df = sample_rows(seeds, int(n * 1.3) + 50, seed=seed, report=info)
    info["draw_s"] = time.perf_counter() - t0
    try:
        from seedgen.filtering import check_rows
    except ImportError as e:
        info["filter"] = f"not available ({e})"
        return df.head(n), info
    rep = check_rows(df, seeds, rules=rules, fix=True)
    fixed = rep.frame
    mask = np.asarray(rep.passed, dtype=bool)
    info["filter_pass"] = float(mask.mean())
    out = fixed[mask].head(n).reset_index(drop=True)
    if len(out) < n:
        info["short"] = n - len(out)
    return out, info


def sdv_rows(train_csv: str, n: int, workdir: str) -> pd.DataFrame | str:
    if not os.path.exists(SDV_PYTHON):
        return f"SDV skipped: {SDV_PYTHON} not found (set SEEDGEN_SDV_PYTHON)"
    out = os.path.join(workdir, "sdv.csv")
    script = os.path.join(workdir, "sdv_fit.py")
    Path(script).write_text(_SDV_SCRIPT)
    proc = subprocess.run([SDV_PYTHON, script, train_csv, out, str(n)], capture_output=True, text=True)
    if proc.returncode != 0:
        return "SDV skipped: " + (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""])


def add_grade_target(df: pd.DataFrame) -> pd.DataFrame:
    """loans only: grade in {A, B} as the second utility target (grade/sub_grade dropped: they define it)."""
    out = df.drop(columns=[c for c in ("grade", "sub_grade") if c in df.columns])
    out["grade_in_AB"] = df["grade"].astype(str).isin(["A", "B"]).map({True: "yes", False: "no"})
    return out


def identical_rows(train: pd.DataFrame, syn: pd.DataFrame) -> int:
    cols = list(train.columns)
    a = set(map(tuple, train[cols].astype(str).to_numpy()))
    return int(sum(tuple(r) in a for r in syn[cols].astype(str).to_numpy()))


#: data set → generator → one dict of headline scores per split and draw (for `--splits`)
SUMMARY: dict[str, dict[str, list[dict]]] = {}


def summary(name: str) -> str:
    """Mean (min–max) of each headline score per generator, over every split and draw run so far."""
    sets = SUMMARY.get(name, {})
    if not sets:
        return ""
    keys = list(next(iter(sets.values()))[0])
    lines = ["| set | runs | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 2)]
    for gen, rows in sets.items():
        cells = []
        for k in keys:
            v = np.array([r[k] for r in rows if r[k] is not None], dtype=float)
            cells.append("–" if v.size == 0 else f"{v.mean():.3f} ({v.min():.3f}–{v.max():.3f})")
        lines.append(f"| {gen} | {len(rows)} | " + " | ".join(cells) + " |")
    return f"### {name}: mean (min–max) over splits and draws\n\n" + "\n".join(lines)


def _tag(name: str, args) -> str:
    """Output file stem: the data set, and the split's seed when several splits run."""
    return f"{name}_split{args.seed}" if args.splits > 1 else name


def run(name: str, args) -> str:
    path, targets = DATA[name]
    train, holdout = split(path, args.seed)
    n = args.rows or len(train)
    work = tempfile.mkdtemp(prefix=f"quality_{name}_")
    train_csv = os.path.join(work, "train.csv")
    train.to_csv(train_csv, index=False)
    sets: dict[str, pd.DataFrame] = {}
    notes: list[str] = []

    t0 = time.perf_counter()
    # `seedgen profile --target`: the first utility target (the sampler draws it last, from all columns)
    seeds, how = profile_train(train_csv, args.seed, target=targets[0])
    fit_s = time.perf_counter() - t0
    size_mb = len(seeds.model_dump_json()) / 1e6
    syn, info = sampler_rows(seeds, n, args.seed + 1, ["lending"] if name == "loans" else [])
    sets["seedgen sampler + filter"] = render(syn, seeds.columns)
    # Extra draws from the same seeds (other draw seeds) show how much the figures move by chance alone.
    for k in range(1, args.draws):
        extra, _ = sampler_rows(seeds, n, args.seed + 1 + k, ["lending"] if name == "loans" else [])
        sets[f"seedgen sampler + filter (draw {k + 1})"] = render(extra, seeds.columns)
    notes.append(
        f"seedgen: seeds via {how} in {fit_s:.1f}s, seeds.json {size_mb:.1f} MB, draw {info['draw_s']:.2f}s, "
        f"redrawn for constraints {sum(info.get('resampled', {}).values())}, filter pass {info.get('filter_pass')}"
    )

    if args.seedgen_only:
        notes.append("baselines skipped: --seedgen-only")
        return _score(name, args, train, holdout, sets, notes, work, n)
    cols = infer_schema(read_table(train_csv))
    typed = coerce(read_table(train_csv).data, cols)
    t0 = time.perf_counter()
    gmm = GaussianMixtureBaseline(cols, seed=args.seed).fit(typed)
    sets[f"Gaussian mixture (k={gmm.k} by BIC)"] = render(gmm.sample(n), cols)
    notes.append(f"GMM fit+sample {time.perf_counter() - t0:.1f}s")
    cart = SequentialCartBaseline(cols, min_leaf=5, seed=args.seed).fit(typed)
    sets["sequential CART (leaf 5)"] = render(cart.sample(n), cols)
    if args.skip_sdv:
        notes.append("SDV skipped: --skip-sdv")
    else:
        t0 = time.perf_counter()
        s = sdv_rows(train_csv, n, work)
        if isinstance(s, str):
            notes.append(s)
            print("#", s)
        else:
            sets["SDV GaussianCopula"] = s
            notes.append(f"SDV fit+sample {time.perf_counter() - t0:.1f}s")
    return _score(name, args, train, holdout, sets, notes, work, n)


def _score(name, args, train, holdout, sets, notes, work, n) -> str:
    """Score every set with `seedgen.evaluation.compare`; one markdown table (+ notes), also saved."""
    from seedgen.evaluation import compare

    targets = DATA[name][1]
    tables = {}
    for target in targets:
        tr, ho = train, holdout
        ss = dict(sets)
        if target == "grade_in_AB":
            tr, ho = add_grade_target(train), add_grade_target(holdout)
            ss = {k: add_grade_target(v) for k, v in sets.items()}
        # Files, as `seedgen compare` reads them (types are inferred from the written text).
        tr_csv, ho_csv = os.path.join(work, f"tr_{target}.csv"), os.path.join(work, f"ho_{target}.csv")
        tr.to_csv(tr_csv, index=False)
        ho.to_csv(ho_csv, index=False)
        paths = []
        for i, df in enumerate(ss.values()):
            paths.append(os.path.join(work, f"set{i}_{target}.csv"))
            df.to_csv(paths[-1], index=False)
        comp = compare(
            tr_csv,
            paths,
            os.path.join(args.out, f"{_tag(name, args)}_{target}"),
            names=list(ss),
            holdout=ho_csv,
            target=target,
            rules=["lending"] if name == "loans" else [],
            seed=args.seed,
            quiet=True,
        )
        tables[target] = comp
    first = tables[targets[0]]
    for i, m in enumerate(first.sets):
        row = {"detection AUC": m.detection.auc.value, "shape": m.fidelity.shape.value}
        row.update({"pairs": m.fidelity.pairs.value, "DCR share": m.privacy.dcr_share.value})
        row.update({f"TSTR/TRTR {t}": tables[t].sets[i].utility.score.value for t in targets})
        SUMMARY.setdefault(name, {}).setdefault(m.name.split(" (")[0], []).append(row)
    head = ["set", "detection AUC", "shape", "pairs"] + [f"TSTR/TRTR {t}" for t in targets]
    head += ["DCR share", "identical rows", "rules (all)"]
    rules_named = sorted({r for m in first.sets for r in m.conformance.rules})
    head += rules_named
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    for i, m in enumerate(first.sets):
        row = [m.name, f(m.detection.auc.value), f(m.fidelity.shape.value), f(m.fidelity.pairs.value)]
        row += [f(tables[t].sets[i].utility.score.value) for t in targets]
        row += [
            f(m.privacy.dcr_share.value),
            str(identical_rows(train, sets[m.name])),
            f(m.conformance.all_rules.value),
        ]
        row += [f(m.conformance.rules.get(r)) for r in rules_named]
        lines.append("| " + " | ".join(row) + " |")
    m = first.sets[0]
    ceil = [
        "real holdout (ceiling)",
        f(m.detection.auc.ceiling),
        f(m.fidelity.shape.ceiling),
        f(m.fidelity.pairs.ceiling),
    ]
    ceil += [f(tables[t].sets[0].utility.score.ceiling) for t in targets]
    ceil += [f(m.privacy.dcr_share.ceiling), "0", f(m.conformance.all_rules.ceiling)] + [
        "" for _ in rules_named
    ]
    lines.append("| " + " | ".join(ceil) + " |")
    out = f"### {name} ({len(train)} train / {len(holdout)} holdout rows, {n} synthetic)\n\n" + "\n".join(
        lines
    )
    out += "\n\n" + "\n".join(f"- {x}" for x in notes)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, f"{_tag(name, args)}.md").write_text(out)
    Path(args.out, f"{_tag(name, args)}.json").write_text(
        json.dumps({t: c.model_dump() for t, c in tables.items()}, default=str)
    )
    return out


def speed(rows: int, seed: int) -> str:
    """Sampler rows/s for `rows` rows on the loans table, next to sequential CART sampling the same rows."""
    from seedgen.sampler.draw import sample_rows

    path, targets = DATA["loans"]
    seeds, _ = profile_train(str(path), seed, target=targets[0])
    t0 = time.perf_counter()
    df = sample_rows(seeds, rows, seed=seed)
    draw = time.perf_counter() - t0
    t0 = time.perf_counter()
    render(df, seeds.columns)
    rend = time.perf_counter() - t0
    typed = coerce(read_table(str(path)).data, seeds.columns)
    cart = SequentialCartBaseline(seeds.columns, min_leaf=5, seed=seed).fit(typed)
    t0 = time.perf_counter()
    cart.sample(rows)
    base = time.perf_counter() - t0
    return (
        f"sampler: {rows:,} rows x {len(seeds.columns)} columns in {draw:.1f}s = {rows / draw:,.0f} rows/s "
        f"(+ render to strings {rend:.1f}s); sequential CART baseline (scikit-learn trees) {base:.1f}s = "
        f"{rows / base:,.0f} rows/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="all", choices=["loans", "credit", "all"])
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-sdv", action="store_true")
    ap.add_argument("--seedgen-only", action="store_true", help="no baselines (quick iteration)")
    ap.add_argument("--draws", type=int, default=1, help="score this many sampler draws (spread by chance)")
    ap.add_argument(
        "--splits", type=int, default=1, help="repeat on this many 70/30 splits, then a mean table"
    )
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "seedgen_quality"))
    ap.add_argument("--speed", type=int, default=0, help="only time the sampler on this many rows")
    args = ap.parse_args()
    if args.speed:
        print(speed(args.speed, args.seed))
        return
    names = ["loans", "credit"] if args.data == "all" else [args.data]
    first_seed = args.seed
    for name in names:
        for k in range(args.splits):
            args.seed = first_seed + k
            print(run(name, args), flush=True)
            print()
        if args.splits > 1:
            print(summary(name), flush=True)
            print()


if __name__ == "__main__":
    main()
