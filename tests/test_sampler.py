"""The statistical sampler: per-column properties, derived columns, checks, determinism, no copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedgen.io import Table
from seedgen.sampler.draw import sample_rows
from seedgen.sampler.fit import fit_sampler
from seedgen.schema import coerce, infer_schema, render
from seedgen.seeds import (
    CategoryBand,
    ConditionalRange,
    FunctionalDependency,
    Inequality,
    LinearIdentity,
    NullPattern,
    ProductIdentity,
    ProfileSettings,
    SeedFile,
    SourceInfo,
    load_seeds,
    save_seeds,
)


def _table(df: pd.DataFrame) -> Table:
    raw = df.astype(object).where(df.notna(), None).map(lambda v: None if v is None else str(v))
    return Table(data=df, raw=raw, path="mem.csv")


def _seeds(df: pd.DataFrame, rules=(), labels=None, seed=0) -> tuple[SeedFile, pd.DataFrame]:
    table = _table(df)
    cols = infer_schema(table)
    typed = coerce(df, cols)
    labels = np.zeros(len(df), int) if labels is None else labels
    model = fit_sampler(typed, cols, labels, list(rules), seed=seed)
    src = SourceInfo(file="mem.csv", rows=len(df), columns=len(cols))
    return SeedFile(
        source=src, settings=ProfileSettings(), columns=cols, clusters=[], rules=list(rules), sampler=model
    ), typed


@pytest.fixture(scope="module")
def loans_like() -> pd.DataFrame:
    """A loan-like table: rate table, round amounts, a null co-pattern, sums, bands, dates."""
    rng = np.random.default_rng(7)
    n = 2000
    grade = rng.choice(list("ABCD"), n, p=[0.3, 0.3, 0.25, 0.15])
    sub = np.array([g + str(rng.integers(1, 4)) for g in grade])
    rate_table = {f"{g}{k}": round(5 + 4 * "ABCD".index(g) + 0.77 * k, 2) for g in "ABCD" for k in (1, 2, 3)}
    rate = np.array([rate_table[s] for s in sub])
    amount = rng.choice([5000, 10000, 12000, 15000, 20000, 25000], n) + rng.choice([0, 0, 0, 500, 250], n)
    paid_principal = np.round(amount * rng.uniform(0.01, 0.2, n), 2)
    paid_interest = np.round(paid_principal * rate / 100 * rng.uniform(0.5, 1.5, n), 2)
    delinq = rng.choice([0, 0, 0, 1, 2], n)
    months = np.where(delinq > 0, rng.integers(1, 60, n).astype(float), np.nan)
    income = np.where(
        rng.random(n) < 0.6, rng.integers(30, 150, n) * 1000.0, np.round(rng.lognormal(11, 0.5, n), 2)
    )
    month = rng.choice(["Jan-2018", "Feb-2018", "Mar-2018"], n)
    return pd.DataFrame(
        {
            "grade": grade,
            "sub_grade": sub,
            "rate": rate,
            "amount": amount.astype(np.int64),
            "paid_principal": paid_principal,
            "paid_interest": paid_interest,
            "paid_total": np.round(paid_principal + paid_interest, 2),
            "balance": np.round(amount - paid_principal, 2),
            "delinq": delinq,
            "months_since": months,
            "income": income,
            "issued": pd.Series(month),
        }
    )


RULES = [
    FunctionalDependency(
        lhs="sub_grade",
        rhs="grade",
        mapping={f"{g}{k}": g for g in "ABCD" for k in (1, 2, 3)},
        support=1.0,
        n=2000,
    ),
    LinearIdentity(target="balance", terms={"amount": 1.0, "paid_principal": -1.0}, support=1.0, n=2000),
    LinearIdentity(
        target="paid_total", terms={"paid_principal": 1.0, "paid_interest": 1.0}, support=1.0, n=2000
    ),
    Inequality(left="paid_principal", right="amount", support=1.0, n=2000),
    NullPattern(column="months_since", when_column="delinq", when="zero", support=1.0, n=2000),
    ConditionalRange(
        when_column="delinq", when="positive", column="months_since", low=1, high=59, support=1.0, n=800
    ),
]


@pytest.fixture(scope="module")
def fitted(loans_like):
    rules = RULES + [
        CategoryBand(
            category="sub_grade",
            column="rate",
            support=1.0,
            n=2000,
            bands={
                s: (float(v), float(v)) for s, v in loans_like.groupby("sub_grade")["rate"].first().items()
            },
        )
    ]
    seeds, typed = _seeds(loans_like, rules)
    return seeds, typed, sample_rows(seeds, 3000, seed=3)


def test_columns_types_and_order(fitted):
    seeds, typed, out = fitted
    assert list(out.columns) == seeds.column_names
    assert len(out) == 3000
    assert out["amount"].dtype == float and out["grade"].dtype == object
    assert pd.api.types.is_datetime64_any_dtype(out["issued"])


def test_precision_integers_and_point_masses(fitted):
    seeds, typed, out = fitted
    # integers are integers, decimals are the column's decimals
    assert np.all(out["amount"] == np.round(out["amount"]))
    assert np.all(out["delinq"] == np.round(out["delinq"]))
    pi = out["paid_interest"].dropna()
    assert np.allclose(pi, pi.round(2), atol=1e-9)
    # a finite value set (the rate table) is drawn exactly: no new rates appear
    assert set(out["rate"].unique()) <= set(typed["rate"].unique())
    # round incomes stay round about as often as in the real data
    real_round = (typed["income"] % 1000 == 0).mean()
    syn_round = (out["income"] % 1000 == 0).mean()
    assert abs(real_round - syn_round) < 0.08
    # dates keep their format granularity (a month format → first of the month)
    assert set(out["issued"].dt.day.unique()) == {1}


def test_long_keys_and_full_precision_floats_are_drawn_as_written(tmp_path):
    """Sixteen-digit integers keep their last digits and floats a program wrote at full precision keep
    theirs: no column of drawn values ends in zeros the real one does not have."""
    rng = np.random.default_rng(5)
    n = 600
    real = pd.DataFrame(
        {
            "key": rng.integers(10**15, 9 * 10**15, n),
            "score": rng.exponential(5, n),
            "group": rng.choice(list("ab"), n),
        }
    )
    path = tmp_path / "long.csv"
    real.to_csv(path, index=False)
    from seedgen.io import read_table
    from seedgen.profiling import profile

    seeds = profile(path, clusters=2, seed=0, quiet=True)
    out = render(sample_rows(seeds, 600, seed=2), seeds.columns)
    written = pd.read_csv(path, dtype=str)
    for col in ("key", "score"):
        real_len, drawn_len = written[col].str.len().mean(), out[col].str.len().mean()
        assert abs(real_len - drawn_len) < 1, (col, real_len, drawn_len)
    assert (out["key"].str[-3:] == "000").mean() < 0.02
    assert read_table(path).data["key"].dtype.kind == "i"


def test_a_date_a_few_days_after_another_keeps_its_real_gaps(tmp_path):
    rng = np.random.default_rng(4)
    n = 1500
    ordered = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    gap = rng.choice([1, 2, 3, 5], n, p=[0.4, 0.3, 0.2, 0.1])
    path = tmp_path / "orders.csv"
    pd.DataFrame(
        {
            "ordered": ordered.strftime("%Y-%m-%d"),
            "shipped": (ordered + pd.to_timedelta(gap, unit="D")).strftime("%Y-%m-%d"),
            "amount": rng.lognormal(3, 1, n).round(2),
        }
    ).to_csv(path, index=False)
    from seedgen.profiling import profile

    seeds = profile(path, clusters=2, seed=0, quiet=True)
    out = sample_rows(seeds, 3000, seed=5)
    drawn = (out["shipped"] - out["ordered"]).dt.days.value_counts(normalize=True)
    assert set(drawn.index) <= {1, 2, 3, 5}  # no gap the real orders never had
    for days, share in {1: 0.4, 2: 0.3, 3: 0.2, 5: 0.1}.items():
        assert abs(drawn.get(days, 0) - share) < 0.04
    assert out["ordered"].nunique() > 500  # the dates themselves are drawn, not a handful repeated


def test_category_sets_and_frequencies(fitted):
    seeds, typed, out = fitted
    assert set(out["sub_grade"].unique()) <= set(typed["sub_grade"].unique())
    real = typed["grade"].value_counts(normalize=True)
    syn = out["grade"].value_counts(normalize=True).reindex(real.index, fill_value=0)
    assert (real - syn).abs().max() < 0.05


def test_null_co_pattern(fitted):
    seeds, typed, out = fitted
    assert (out["months_since"].isna() == (out["delinq"] == 0)).all()
    assert abs(out["months_since"].isna().mean() - typed["months_since"].isna().mean()) < 0.05


def test_derived_columns_exact(fitted):
    seeds, typed, out = fitted
    assert np.allclose(out["balance"], out["amount"] - out["paid_principal"], atol=1e-6)
    assert np.allclose(out["paid_total"], out["paid_principal"] + out["paid_interest"], atol=1e-6)
    mapping = dict(zip(typed["sub_grade"], typed["grade"], strict=False))
    assert (out["sub_grade"].map(mapping) == out["grade"]).all()
    steps = {s.column: s.method for s in seeds.sampler.steps}
    assert steps["balance"] == "linear" and steps["paid_total"] == "linear" and steps["grade"] == "lookup"


def test_checks_hold(fitted):
    seeds, typed, out = fitted
    assert (out["paid_principal"] <= out["amount"]).all()
    m = out.loc[out["delinq"] > 0, "months_since"]
    assert m.between(1, 59).all()
    bands = typed.groupby("sub_grade")["rate"].first()
    assert (out["rate"] == out["sub_grade"].map(bands)).all()
    assert isinstance(out.attrs["resampled"], dict)


def test_deterministic_with_seed(fitted):
    seeds, _, _ = fitted
    a = sample_rows(seeds, 500, seed=11)
    b = sample_rows(seeds, 500, seed=11)
    c = sample_rows(seeds, 500, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_roundtrip_through_seeds_json(fitted, tmp_path):
    seeds, _, _ = fitted
    save_seeds(seeds, tmp_path / "seeds.json")
    again = load_seeds(tmp_path / "seeds.json")
    pd.testing.assert_frame_equal(sample_rows(seeds, 300, seed=5), sample_rows(again, 300, seed=5))


def test_cluster_choice(loans_like):
    labels = (loans_like["grade"] <= "B").astype(int).to_numpy()
    seeds, _ = _seeds(loans_like, RULES, labels=labels)
    out = sample_rows(seeds, 400, seed=0, cluster=1)
    assert out["grade"].isin(["A", "B"]).mean() > 0.95


def test_rendered_output_in_original_format(fitted):
    seeds, _, out = fitted
    text = render(out, seeds.columns)
    assert text["issued"].str.fullmatch(r"[A-Z][a-z]{2}-\d{4}").all()
    assert text["amount"].str.fullmatch(r"\d+").all()


def test_small_table_has_no_copy_of_a_real_row():
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "city": rng.choice(["Oslo", "Lima", "Pune", "Nice", "Kobe"], n),
            "income": np.round(rng.lognormal(10.5, 0.6, n), 2),
            "score": np.round(rng.normal(600, 80, n), 1),
        }
    )
    seeds, _ = _seeds(df)
    out = render(sample_rows(seeds, 2000, seed=1), seeds.columns)
    real = set(map(tuple, render(coerce(df, seeds.columns), seeds.columns).astype(str).to_numpy()))
    copies = sum(tuple(r) in real for r in out.astype(str).to_numpy())
    assert copies == 0
    # leaves are statistics of many rows, and the model holds no row
    assert seeds.sampler.min_leaf >= 20


def test_text_keeps_only_frequent_values_and_ids_are_fresh():
    rng = np.random.default_rng(1)
    n = 600
    common = ["nurse", "teacher", "driver", "engineer"]
    titles = [rng.choice(common) if rng.random() < 0.7 else f"rare title {i}" for i in range(n)]
    df = pd.DataFrame(
        {"id": [f"AB-{100000 + i}" for i in range(n)], "title": titles, "x": rng.normal(0, 1, n).round(3)}
    )
    seeds, _ = _seeds(df)
    kinds = {c.name: c.kind for c in seeds.columns}
    assert kinds["id"] == "id" and kinds["title"] == "text"
    out = sample_rows(seeds, 500, seed=2)
    assert set(out["title"].dropna()) <= set(common)
    assert out["id"].is_unique
    assert out["id"].str.fullmatch(r"AB-\d{6}").all()
    assert not set(out["id"]) & set(df["id"])


def test_product_identity_is_computed():
    rng = np.random.default_rng(2)
    n = 500
    q = rng.integers(1, 20, n)
    price = np.round(rng.uniform(1, 50, n), 2)
    df = pd.DataFrame({"quantity": q, "price": price, "total": np.round(q * price, 2)})
    rule = ProductIdentity(target="total", factors={"quantity": 1, "price": 1}, support=1.0, n=n)
    seeds, _ = _seeds(df, [rule])
    out = sample_rows(seeds, 400, seed=0)
    assert np.allclose(out["total"], np.round(out["quantity"] * out["price"], 2))


def test_product_is_not_solved_by_dividing_by_a_column_with_zeros():
    """share_amount = share × amount, where amount has zeros (so share_amount has fewer distinct values than
    share): computing share = share_amount / amount would divide the drawn product's noise by amounts near 0,
    so the product is computed and share keeps its real range."""
    rng = np.random.default_rng(4)
    n = 400
    share = np.round(rng.uniform(3, 7, n), 6)
    amount = np.round(np.where(rng.random(n) < 0.05, 0.0, rng.uniform(0, 90, n)), 5)
    df = pd.DataFrame({"share": share, "amount": amount, "share_amount": np.round(share * amount, 5)})
    rule = ProductIdentity(target="share_amount", factors={"share": 1, "amount": 1}, support=1.0, n=n)
    seeds, _ = _seeds(df, [rule])
    methods = {s.column: s.method for s in seeds.sampler.steps}
    assert methods == {"share": "tree", "amount": "tree", "share_amount": "product"}
    out = sample_rows(seeds, 1000, seed=0)
    assert out["share"].between(share.min(), share.max()).all()
    assert np.allclose(out["share_amount"], out["share"] * out["amount"], rtol=1e-4, atol=1e-4)


def test_identity_solved_for_the_least_round_member(loans_like):
    # The rule names the round column as its target; the sampler computes the continuous one instead, so
    # the round amounts keep their point masses.
    rule = LinearIdentity(target="amount", terms={"balance": 1.0, "paid_principal": 1.0}, support=1.0, n=2000)
    seeds, typed = _seeds(loans_like[["amount", "paid_principal", "balance"]], [rule])
    methods = {s.column: s.method for s in seeds.sampler.steps}
    assert methods["amount"] == "tree"
    out = sample_rows(seeds, 1000, seed=0)
    assert set(out["amount"].unique()) <= set(typed["amount"].unique())
    assert np.allclose(out["amount"], out["balance"] + out["paid_principal"], atol=1e-6)


def test_target_is_drawn_last(loans_like):
    df = loans_like[["grade", "amount", "income", "delinq"]]
    cols = infer_schema(_table(df), target="grade")
    model = fit_sampler(coerce(df, cols), cols, np.zeros(len(df), int), [], seed=0)
    assert [s.column for s in model.steps if s.method == "tree"][-1] == "grade"


def test_leaves_cover_many_rows_and_target_leaves_more(loans_like):
    """Every leaf is a statistic of ≥ MIN_LEAF rows; the --target column's of ≥ TARGET_MIN_LEAF rows
    (a smoother P(target | row), which is what a model trained on the synthetic rows learns). Tables
    under 4,000 rows use a hundredth of their rows, never fewer than SMALL_TABLE_LEAF."""
    from seedgen.sampler.fit import MIN_LEAF, SMALL_TABLE_LEAF, TARGET_MIN_LEAF, _small

    assert _small(MIN_LEAF, 7000) == MIN_LEAF and _small(TARGET_MIN_LEAF, 7000) == TARGET_MIN_LEAF
    assert _small(MIN_LEAF, 124) == SMALL_TABLE_LEAF >= 20
    df = loans_like[["grade", "amount", "income", "delinq", "rate"]]
    n = len(df)
    leaf, target_leaf = _small(MIN_LEAF, n), _small(TARGET_MIN_LEAF, n)
    cols = infer_schema(_table(df), target="delinq")
    model = fit_sampler(coerce(df, cols), cols, np.zeros(n, int), [], seed=0)
    n_leaves = {s.column: sum(v >= 0 for v in s.tree.leaf) for s in model.steps if s.method == "tree"}
    assert model.min_leaf >= leaf >= SMALL_TABLE_LEAF
    assert all(k <= n // leaf for k in n_leaves.values())
    assert 1 < n_leaves["delinq"] <= n // target_leaf


def test_categorical_target_drawn_from_boosted_probabilities(loans_like, tmp_path):
    """A categorical --target gets boosted class probabilities (leaf values of ≥ min-leaf rows) and keeps
    its relation to the other columns: here grade is a function of the rate."""
    from seedgen.sampler.boost import class_probabilities

    df = loans_like[["grade", "rate", "amount", "income"]]
    cols = infer_schema(_table(df), target="grade")
    typed = coerce(df, cols)
    model = fit_sampler(typed, cols, np.zeros(len(df), int), [], seed=0)
    step = next(s for s in model.steps if s.column == "grade")
    assert step.boost is not None and len(step.boost.trees) == len(step.boost.values)
    src = SourceInfo(file="mem.csv", rows=len(df), columns=len(cols))
    seeds = SeedFile(source=src, settings=ProfileSettings(), columns=cols, clusters=[], sampler=model)
    save_seeds(seeds, tmp_path / "seeds.json")
    seeds = load_seeds(tmp_path / "seeds.json")
    out = sample_rows(seeds, 3000, seed=3)
    grade_of_rate = dict(zip(typed["rate"], typed["grade"], strict=True))
    assert (out["rate"].map(grade_of_rate) == out["grade"]).mean() > 0.95
    x = np.zeros((5, len(model.features)))
    p = class_probabilities(step.boost, x, model.features)
    assert p.shape == (5, len(step.boost.codes)) and np.allclose(p.sum(axis=1), 1)
    assert sample_rows(seeds, 3000, seed=3).equals(out)


def test_boosted_target_sees_each_category_effect_on_each_class():
    """Category effects on a 3-class target in different directions: states a/b favour class M, g/h class R,
    e/f raise class O (an effect orthogonal to the M-against-R axis that orders the states for their own
    tree). Each effect survives in the drawn rows. Drawn at temperature 1, so the shares are the boosted
    probabilities themselves (sharpening is tested on its own below)."""
    rng = np.random.default_rng(5)
    n = 8000
    state = rng.choice(list("abcdefgh"), n)
    x = rng.normal(0, 1, n)
    p = np.tile([0.45, 0.45, 0.10], (n, 1))
    p[np.isin(state, ["a", "b"])] = [0.80, 0.15, 0.05]
    p[np.isin(state, ["g", "h"])] = [0.15, 0.80, 0.05]
    p[np.isin(state, ["e", "f"])] = [0.30, 0.30, 0.40]
    cls = np.array(["M", "R", "O"])[(p.cumsum(1) < rng.random(n)[:, None]).sum(1)]
    df = pd.DataFrame({"state": state, "x": np.round(x, 2), "home": cls})
    seeds, typed, step = _target_seeds(df, "home", temperature=1.0)
    assert step.boost is not None
    out = sample_rows(seeds, 12000, seed=4)
    for group in (["e", "f"], ["a", "b"], ["c", "d"]):
        real = (typed[typed["state"].isin(group)]["home"] == "O").mean()
        syn = (out[out["state"].isin(group)]["home"] == "O").mean()
        assert abs(syn - real) < 0.05, (group, real, syn)


def test_target_draws_are_sharpened_but_keep_the_real_class_shares():
    """The boosted class scores are divided by TEMPERATURE (< 1: less noisy labels, see
    `seedgen.sampler.boost._share_offsets`); the stored offsets put the drawn class shares back on the real
    ones, which sharpening alone would move toward the majority class."""
    from seedgen.sampler.boost import _share_offsets, _softmax, class_probabilities
    from seedgen.sampler.model import TARGET_TEMPERATURE

    assert 0 < TARGET_TEMPERATURE < 1
    rng = np.random.default_rng(2)
    raw = rng.normal(0, 1.5, (4000, 3)) + [1.0, 0.0, -1.0]
    shares = np.array([0.5, 0.3, 0.2])
    off = _share_offsets(raw, shares, 0.7)
    assert np.allclose(_softmax(raw / 0.7 + off).mean(axis=0), shares, atol=1e-6)
    assert _share_offsets(raw, shares, 1.0) == []

    n = 6000
    x = rng.normal(0, 1, n)
    p = _softmax(np.column_stack([1.2 * x, np.zeros(n), -1.2 * x + 0.5]))
    home = np.array(["M", "R", "O"])[(p.cumsum(1) < rng.random(n)[:, None]).sum(1)]
    df = pd.DataFrame({"x": np.round(x, 2), "home": home})
    seeds, typed, step = _target_seeds(df, "home")
    assert step.boost.temperature == TARGET_TEMPERATURE and len(step.boost.offsets) == 3
    out = sample_rows(seeds, 20000, seed=5)
    real = typed["home"].value_counts(normalize=True)
    syn = out["home"].value_counts(normalize=True)
    assert (syn - real).abs().max() < 0.015, (real, syn)
    grid = np.zeros((200, len(seeds.sampler.features)))
    grid[:, seeds.sampler.features.index("x")] = np.linspace(-2, 2, 200)
    plain = step.boost.model_copy(update={"temperature": 1.0, "offsets": []})
    sharp = class_probabilities(step.boost, grid, seeds.sampler.features).max(axis=1).mean()
    assert sharp > class_probabilities(plain, grid, seeds.sampler.features).max(axis=1).mean() + 0.01
    # a number with two values is a flag, sharpened like a category
    _, _, flag = _target_seeds(pd.DataFrame({"x": df["x"], "flag": np.where(home == "M", 5, 10)}), "flag")
    assert flag.boost.numbers == [5.0, 10.0] and flag.boost.temperature == TARGET_TEMPERATURE


def test_boosting_orders_categories_by_each_trees_gradient_and_hides_rare_ones():
    """Each boosting tree encodes a categorical predictor by its categories' mean residual (shrunk toward 0),
    so its splits separate the categories that matter for that tree; a category with fewer than
    MIN_CATEGORY_ROWS rows is encoded as 0, so no stored value describes one or two rows."""
    from seedgen.sampler.boost import CATEGORY_SMOOTHING, MIN_CATEGORY_ROWS, _encode_categories

    codes = np.array([0] * 20 + [1] * 20 + [2] * 20 + [3] * (MIN_CATEGORY_ROWS - 1) + [-1] * 3)
    r = np.concatenate(
        [np.full(20, 0.5), np.full(20, -0.5), np.zeros(20), np.full(MIN_CATEGORY_ROWS - 1, 1.0)]
    )
    r = np.concatenate([r, np.zeros(3)])
    x = np.zeros((len(codes), 2))
    x[:, 1] = np.where(codes >= 0, codes, np.nan)
    sub = np.arange(len(codes))
    out, enc = _encode_categories(x, r, sub, {"state": (1, codes, 5)})
    assert enc["state"][0] == pytest.approx(10 / (20 + CATEGORY_SMOOTHING))
    assert enc["state"][1] == pytest.approx(-10 / (20 + CATEGORY_SMOOTHING))
    assert enc["state"][2] == 0 and enc["state"][3] == 0 and enc["state"][4] == 0
    assert np.isnan(out[-3:, 1]).all() and (out[:20, 1] > 0).all() and (out[20:40, 1] < 0).all()
    assert (x[:, 1][:60] == codes[:60]).all()  # the caller's matrix is left as it was


def _target_table(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x1, x2 = rng.normal(50, 10, n), rng.uniform(0, 1, n)
    cat = rng.choice(["a", "b", "c"], n)
    return pd.DataFrame(
        {
            "x1": np.round(x1, 1),
            "x2": np.round(x2, 3),
            "cat": cat,
            "y": np.round(3 * x1 + 20 * x2 + np.where(cat == "a", 15, 0) + rng.normal(0, 5, n), 2),
            "score": np.clip(np.round((x1 - 50) / 8 + rng.normal(0, 0.7, n)), -2, 2).astype(int),
            "claims": np.where(rng.random(n) < 0.7, 0.0, np.round(rng.gamma(2, 300, n), 2)),
        }
    )


def _target_seeds(df: pd.DataFrame, target: str, **fit):
    cols = infer_schema(_table(df), target=target)
    typed = coerce(df, cols)
    model = fit_sampler(typed, cols, np.zeros(len(df), int), [], seed=0, **fit)
    src = SourceInfo(file="mem.csv", rows=len(df), columns=len(cols))
    seeds = SeedFile(source=src, settings=ProfileSettings(), columns=cols, clusters=[], sampler=model)
    return seeds, typed, next(s for s in model.steps if s.column == target)


def test_numeric_target_drawn_from_boosted_mean_and_leaf_residuals():
    """A continuous --target is its boosted mean given the other columns plus a residual from its leaf: the
    relation to the other columns (what a model trained on synthetic rows learns) and the spread around it
    stay those of the real rows; values keep their decimals and the real range."""
    seeds, typed, step = _target_seeds(_target_table()[["x1", "x2", "cat", "y"]], "y")
    assert step.boost_mean is not None and step.boost is None and step.grains == []
    out = sample_rows(seeds, 4000, seed=1)
    real_fit = np.polyfit(typed["x1"], typed["y"], 1)
    syn_fit = np.polyfit(out["x1"], out["y"], 1)
    assert abs(syn_fit[0] - real_fit[0]) < 0.25  # slope ≈ 3
    gap = out[out["cat"] == "a"]["y"].mean() - out[out["cat"] != "a"]["y"].mean()
    real_gap = typed[typed["cat"] == "a"]["y"].mean() - typed[typed["cat"] != "a"]["y"].mean()
    assert abs(gap - real_gap) < 3
    resid = out["y"] - np.polyval(syn_fit, out["x1"])
    real_resid = typed["y"] - np.polyval(real_fit, typed["x1"])
    assert 0.85 < resid.std() / real_resid.std() < 1.15
    assert out["y"].between(typed["y"].min(), typed["y"].max()).all()
    assert np.allclose(out["y"], out["y"].round(2))


def test_numeric_target_keeps_a_proportional_relation_through_its_tail():
    """A count that grows with a heavy-tailed size (pupils above a level against pupils below it): one leaf
    spans the largest sizes, so trees alone lose the relation where it matters most; the linear start keeps
    it. A target with no linear relation (a U shape) gets no linear term."""
    rng = np.random.default_rng(8)
    n = 400
    size = np.round(np.exp(rng.normal(6, 1.1, n)))
    df = pd.DataFrame(
        {
            "size": size,
            "share": np.round(rng.uniform(0, 1, n), 3),
            "count": np.maximum(np.round(0.4 * size + rng.normal(0, 1, n) * np.sqrt(size) * 2), 0),
        }
    )
    seeds, typed, step = _target_seeds(df, "count")
    assert step.boost_mean is not None and step.boost_mean.linear_coef
    out = sample_rows(seeds, 4000, seed=5)
    real_r = np.corrcoef(typed["size"], typed["count"])[0, 1]
    assert abs(np.corrcoef(out["size"], out["count"])[0, 1] - real_r) < 0.05, real_r
    assert out["count"].between(typed["count"].min(), typed["count"].max()).all()

    u = pd.DataFrame({"x": np.round(rng.uniform(-1, 1, n), 3)})
    u["y"] = np.round(u["x"] ** 2 + rng.normal(0, 0.05, n), 3)
    _, _, step = _target_seeds(u, "y")
    assert step.boost_mean is not None and step.boost_mean.linear_coef == []


def test_numeric_target_with_few_values_is_drawn_as_classes_and_zero_inflated_keeps_leaves():
    """An integer target with a handful of values is drawn from boosted class probabilities over exactly
    those values; a target that is mostly one shared value (70 % zeros) keeps its leaf draws, so the zeros
    stay exact."""
    df = _target_table()[["x1", "x2", "score", "claims"]]
    for target in ("score", "claims"):
        seeds, _, step = _target_seeds(df, target)
        out = sample_rows(seeds, 4000, seed=2)
        if target == "score":
            assert step.boost is not None and step.boost.numbers == [-2.0, -1.0, 0.0, 1.0, 2.0]
            # five numbers: each row's expected score matters, so they are not sharpened
            assert step.boost.temperature == 1.0 and step.boost.offsets == []
            assert set(out["score"].unique()) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
            assert (
                abs(np.corrcoef(out["x1"], out["score"])[0, 1] - np.corrcoef(df["x1"], df["score"])[0, 1])
                < 0.05
            )
            shares = out["score"].value_counts(normalize=True)
            real = df["score"].value_counts(normalize=True)
            assert (shares.reindex(real.index).fillna(0) - real).abs().max() < 0.03
        else:
            assert step.boost is None and step.boost_mean is None
            assert abs((out["claims"] == 0).mean() - 0.7) < 0.03


def test_zero_and_one_row(fitted):
    seeds, _, _ = fitted
    assert sample_rows(seeds, 0).shape == (0, len(seeds.columns))
    assert len(sample_rows(seeds, 1, seed=4)) == 1


def test_no_sampler_is_a_user_error(fitted):
    from seedgen.errors import UserInputError

    seeds, _, _ = fitted
    with pytest.raises(UserInputError):
        sample_rows(seeds.model_copy(update={"sampler": None}), 10)


def test_unique_free_text_gets_phrases_of_shared_words_only(tmp_path):
    """A free-text column with no value shared by enough rows is not left empty in sampler mode, and
    nothing rare (here the per-row number and name) reaches the output."""
    import seedgen
    from seedgen.filtering import check_rows

    rng = np.random.default_rng(3)
    n = 300
    notes = [f"{rng.choice(['late', 'early'])} payment note {i} for client{i}" for i in range(n)]
    df = pd.DataFrame({"amount": rng.normal(100, 10, n).round(2), "note": notes})
    seeds = seedgen.profile(df, quiet=True)
    out = sample_rows(seeds, 200, seed=4)
    assert out["note"].notna().all()
    shared = {"late", "early", "payment", "note", "for"}
    words = set(" ".join(out["note"]).split())
    assert words <= shared
    assert not set(out["note"]) & set(notes)
    assert check_rows(out, seeds).passed.all()
