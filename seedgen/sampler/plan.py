"""Turning discovered constraints into a draw plan: which columns are computed, which are checked, in what order.

A column that is a function of others (a functional dependency's right side, the target of a sum/difference
or of a product/ratio) is computed from the drawn columns instead of drawn, so the relation holds exactly.
Inequalities, per-category bands, conditional ranges and null co-patterns become checks applied while the
constrained column is drawn (violating rows are redrawn). Rules are accepted greedily by support, skipping
any that would make a column depend on itself; the order then is a topological sort that draws discrete,
low-cardinality columns first and computes a derived column as soon as its inputs exist.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field

from seedgen.sampler.model import Check
from seedgen.schema import ColumnSpec

log = logging.getLogger("seedgen")

#: rules below this support are left to the filter; above it the sampler makes them hold exactly
MIN_SUPPORT = 0.99
_NUMERIC = ("numeric", "integer", "datetime")


@dataclass
class Derivation:
    target: str
    method: str  # linear | product | lookup
    inputs: list[str]
    rule: dict


@dataclass
class Plan:
    order: list[str]
    derived: dict[str, Derivation] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)


def _as_dict(rule) -> dict:
    if hasattr(rule, "model_dump"):
        return rule.model_dump()
    return dict(rule)


class _Graph:
    def __init__(self, nodes):
        self.edges: dict[str, set[str]] = {n: set() for n in nodes}

    def reaches(self, a: str, b: str) -> bool:
        stack, seen = [a], set()
        while stack:
            x = stack.pop()
            if x == b:
                return True
            if x in seen:
                continue
            seen.add(x)
            stack.extend(self.edges.get(x, ()))
        return False

    def add(self, sources: list[str], target: str) -> bool:
        """Add edges source → target unless one would close a cycle."""
        if any(s == target or self.reaches(target, s) for s in sources):
            return False
        for s in sources:
            self.edges[s].add(target)
        return True


def _solve_linear(r: dict, k: str) -> dict:
    """Rewrite target = b + Σ c·t so that member `k` is the target (0 = b + Σ a·x with a_target = −1)."""
    a = {r["target"]: -1.0, **{t: float(c) for t, c in r["terms"].items()}}
    ak = a.pop(k)
    return {
        **r,
        "target": k,
        "terms": {j: -v / ak for j, v in a.items()},
        "intercept": -float(r.get("intercept", 0.0)) / ak,
    }


def _solve_product(r: dict, k: str) -> dict:
    """Rewrite target = s·Π f^e (e = ±1) so that member `k` is the target."""
    if k == r["target"]:
        return r
    ek = int(r["factors"][k])
    factors = {r["target"]: ek, **{j: -int(e) * ek for j, e in r["factors"].items() if j != k}}
    return {**r, "target": k, "factors": factors, "scale": float(r.get("scale", 1.0)) ** (-ek)}


def _divisors(r: dict, k: str) -> set[str]:
    """The members a product relation `r` divides by once rewritten for member `k`."""
    return {j for j, e in _solve_product(r, k)["factors"].items() if int(e) < 0}


def _derivation(
    r: dict, specs: dict[str, ColumnSpec], n_rows: int, n_unique: dict[str, int], near_zero: set[str]
) -> Derivation | None:
    kind = r.get("kind")
    # A relation that holds only on some rows (others null) cannot produce the column for every row.
    if int(r.get("n", n_rows)) < 0.99 * n_rows:
        return None
    if kind in ("linear", "product"):
        key = "terms" if kind == "linear" else "factors"
        members = [r["target"], *r[key]]
        # Dates (days since the epoch while drawing) may enter a sum or difference: discharged =
        # admitted + length of stay is computed like any sum, the stay keeping its own distribution.
        allowed = ("numeric", "integer", "datetime") if kind == "linear" else ("numeric", "integer")
        if not all(c in specs and specs[c].kind in allowed for c in members):
            return None
        if kind == "product" and (r.get("scale", 1.0) == 0 or any(abs(int(e)) != 1 for e in r[key].values())):
            return None
        # Compute the member with the most distinct values (the least "round" one): the others keep their
        # point masses (round amounts, zeros), which a detector would miss if they were computed.
        candidates = members
        if kind == "product":
            # Solving for a member divides by the others of the same sign of exponent as it: a divisor that
            # comes near 0 turns the drawn members' small noise into wild values (a ratio of a product and
            # a factor with zeros: a 15–28 column computed as 0–58), so such members stay drawn.
            candidates = [k for k in members if not near_zero & _divisors(r, k)] or [r["target"]]
        best = max(candidates, key=lambda c: (n_unique.get(c, 0), c == r["target"]))
        r = _solve_linear(r, best) if kind == "linear" and best != r["target"] else r
        r = _solve_product(r, best) if kind == "product" else r
        key_terms = list(r["terms"] if kind == "linear" else r["factors"])
        return Derivation(r["target"], kind, key_terms, r)
    if kind == "functional_dependency":
        lhs, rhs = r["lhs"], r["rhs"]
        if lhs not in specs or rhs not in specs or specs[rhs].kind in ("id", "text"):
            return None
        # A lookup keyed by a (nearly) unique value would copy real cells: only accept keys shared by
        # several rows on average.
        mapping = r.get("mapping") or {}
        if not mapping or len(mapping) > 2000 or len(mapping) * 5 > max(n_rows, 1):
            return None
        if specs[lhs].kind in ("id", "text"):
            return None
        return Derivation(rhs, "lookup", [lhs], r)
    return None


def _check(r: dict, specs: dict[str, ColumnSpec]) -> tuple[list[Check], list[tuple[str, str]]]:
    """Checks for a rule, with the ordering edges (before, after) they need."""
    kind = r.get("kind")
    if kind == "inequality":
        a, b = r["left"], r["right"]
        if a in specs and b in specs and specs[a].kind in _NUMERIC and specs[b].kind in _NUMERIC:
            strict = r.get("op") == "<"
            return [
                Check(kind="le", column=a, other=b, side="left", strict=strict),
                Check(kind="le", column=b, other=a, side="right", strict=strict),
            ], []
    elif kind == "category_band":
        c, col = r["category"], r["column"]
        if c in specs and col in specs and specs[col].kind in ("numeric", "integer"):
            bands = {str(k): (float(v[0]), float(v[1])) for k, v in r["bands"].items()}
            return [Check(kind="band", column=col, other=c, bands=bands)], [(c, col)]
    elif kind == "conditional_range":
        w, col = r["when_column"], r["column"]
        if w in specs and col in specs and specs[col].kind in ("numeric", "integer"):
            chk = Check(
                kind="range", column=col, other=w, when=r["when"], low=r.get("low"), high=r.get("high")
            )
            return [chk], [(w, col)]
    elif kind == "null_pattern":
        w, col = r["when_column"], r["column"]
        if w in specs and col in specs and w != col:
            return [Check(kind="null", column=col, other=w, when=r["when"])], [(w, col)]
    return [], []


def make_plan(
    columns: list[ColumnSpec],
    rules: list,
    drawn: list[str],
    n_unique: dict[str, int],
    n_rows: int,
    near_zero: set[str] | None = None,
) -> Plan:
    """Choose derived columns and checks from `rules`, then order the modelled columns `drawn`.
    `near_zero`: number columns that come near 0, never divided by."""
    specs = {c.name: c for c in columns if c.name in drawn}
    rules = sorted((_as_dict(r) for r in rules or []), key=lambda r: -float(r.get("support", 0)))
    graph = _Graph(drawn)
    derived: dict[str, Derivation] = {}
    for r in rules:
        if float(r.get("support", 0)) < MIN_SUPPORT:
            continue
        d = _derivation(r, specs, n_rows, n_unique, near_zero or set())
        if d is None or d.target in derived:
            continue
        if graph.add(d.inputs, d.target):
            derived[d.target] = d
    checks: list[Check] = []
    for r in rules:
        if float(r.get("support", 0)) < MIN_SUPPORT:
            continue
        cks, edges = _check(r, specs)
        cks = [c for c in cks if c.column not in derived]
        if not cks:
            continue
        if edges and not all(graph.add([a], b) for a, b in edges):
            continue
        checks.extend(cks)

    # Topological order; derived columns first as soon as available, then fewest distinct values first.
    indeg = {n: 0 for n in drawn}
    for _a, outs in graph.edges.items():
        for b in outs:
            indeg[b] += 1
    pos = {n: i for i, n in enumerate(drawn)}

    def key(n):
        # The prediction target (`--target`) comes last: drawn from every other column, it keeps the
        # relation a model trained on synthetic rows has to learn.
        last = 2 if specs[n].kind == "text" else 1 if specs[n].target else 0
        return (0 if n in derived else 1, last, n_unique.get(n, 0), pos[n])

    heap = [(key(n), n) for n in drawn if indeg[n] == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, n = heapq.heappop(heap)
        order.append(n)
        for b in graph.edges[n]:
            indeg[b] -= 1
            if indeg[b] == 0:
                heapq.heappush(heap, (key(b), b))
    rank = {n: i for i, n in enumerate(order)}
    # An inequality is enforced on whichever of its two columns is drawn later.
    kept = [c for c in checks if c.kind != "le" or rank[c.column] > rank[c.other]]
    if derived:
        log.info("sampler: computing %d column(s) from others: %s", len(derived), ", ".join(derived))
    return Plan(order=order, derived=derived, checks=kept)
