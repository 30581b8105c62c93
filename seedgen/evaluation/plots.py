"""The report's figures, returned as base64 strings for data: URIs (the report is one self-contained file).

Per-column distributions are small hand-drawn SVGs; the correlation heatmaps and the PCA projection use
matplotlib's Agg backend (PNG). Only aggregates are drawn — histograms, category shares, correlation
matrices and 2-D densities — so the report carries no real row.
"""

from __future__ import annotations

import base64
import io
from xml.sax.saxutils import escape

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: the report is written on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from seedgen.evaluation.prepare import NUMERIC_LIKE, Columns  # noqa: E402

#: categories shown per bar plot; the rest are summed into "other"
MAX_BARS = 12
HIST_BINS = 30
PCA_ROWS = 2_000
REAL_COLOR = "#4c72b0"
SET_COLORS = ["#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974"]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _short(label: str, n: int = 18) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


class DistributionPlotter:
    """Real vs synthetic distribution of one column as a small SVG (histogram or grouped bars).

    Drawn directly as SVG rather than through matplotlib: a report has one plot per column, and building a
    matplotlib figure per column made plotting the slowest part of an evaluation. Labels are XML-escaped;
    the SVG is embedded as an image, where scripts never run.
    """

    W, H = 360, 220
    LEFT, RIGHT, TOP, BOTTOM = 40, 10, 22, 58

    def close(self):
        pass

    def plot(self, spec, real: Columns, others: list[tuple[str, Columns]]) -> str:
        """One column of the real table against the same column of each other table (`Columns` views)."""
        series = [("real", real, REAL_COLOR)] + [
            (name, s, SET_COLORS[i % len(SET_COLORS)]) for i, (name, s) in enumerate(others)
        ]
        if spec.kind in NUMERIC_LIKE:
            body, ymax = self._hist(spec, series)
        else:
            body, ymax = self._bars(spec, series)
        return self._svg(spec.name, body, ymax, series)

    def _x(self, frac: float) -> float:
        return self.LEFT + frac * (self.W - self.LEFT - self.RIGHT)

    def _y(self, share: float, ymax: float) -> float:
        plot_h = self.H - self.TOP - self.BOTTOM
        return self.TOP + plot_h * (1 - (share / ymax if ymax > 0 else 0))

    def _hist(self, spec, series):
        r = series[0][1].num(spec.name)
        r = r[~np.isnan(r)]
        if len(r) == 0:
            return [], 1.0
        lo, hi = np.quantile(r, [0.005, 0.995])
        if hi <= lo:
            lo, hi = float(r.min()) - 0.5, float(r.max()) + 0.5
        edges = np.linspace(lo, hi, HIST_BINS + 1)
        shares = []
        for _, s, _ in series:
            v = s.num(spec.name)
            v = v[~np.isnan(v)]
            counts = np.histogram(np.clip(v, lo, hi), edges)[0] if len(v) else np.zeros(HIST_BINS)
            shares.append(counts / max(counts.sum(), 1))
        ymax = float(max(x.max() for x in shares)) * 1.05 or 1.0
        body = []
        for (name, _, color), sh in zip(series, shares, strict=True):
            pts = []
            for i, v in enumerate(sh):
                x0, x1 = self._x(i / HIST_BINS), self._x((i + 1) / HIST_BINS)
                y = self._y(float(v), ymax)
                pts += [f"{x0:.1f},{y:.1f}", f"{x1:.1f},{y:.1f}"]
            base = self._y(0, ymax)
            pts = [f"{self._x(0):.1f},{base:.1f}"] + pts + [f"{self._x(1):.1f},{base:.1f}"]
            if name == "real":
                body.append(
                    f'<polygon points="{" ".join(pts)}" fill="{color}" fill-opacity="0.35" stroke="{color}"/>'
                )
            else:
                body.append(
                    f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" stroke-width="1.5"/>'
                )
        for frac, value in ((0.0, lo), (0.5, (lo + hi) / 2), (1.0, hi)):
            label = _axis_label(value, spec.kind)
            anchor = "start" if frac == 0 else ("end" if frac == 1 else "middle")
            body.append(
                f'<text x="{self._x(frac):.1f}" y="{self.H - self.BOTTOM + 12}" font-size="9" '
                f'text-anchor="{anchor}">{escape(label)}</text>'
            )
        return body, ymax

    def _bars(self, spec, series):
        real_counts = series[0][1].counts(spec.name)
        ranked = sorted(real_counts, key=lambda k: -real_counts[k])
        cats = ranked[:MAX_BARS]
        rest = len(ranked) > MAX_BARS
        labels = cats + (["other"] if rest else [])
        table = []
        for _, s, _ in series:
            counts = s.counts(spec.name)
            total = max(sum(counts.values()), 1)
            vals = [counts.get(c, 0) / total for c in cats]
            if rest:
                vals.append(1.0 - sum(vals) if counts else 0.0)
            table.append(vals)
        ymax = max((max(v) for v in table if v), default=0.0) * 1.05 or 1.0
        body = []
        n_groups, n_series = max(len(labels), 1), len(series)
        group_w = 1.0 / n_groups
        bar_w = 0.8 * group_w / n_series
        for j, ((_, _, color), vals) in enumerate(zip(series, table, strict=True)):
            for i, v in enumerate(vals):
                x0 = self._x(i * group_w + 0.1 * group_w + j * bar_w)
                y = self._y(v, ymax)
                w = bar_w * (self.W - self.LEFT - self.RIGHT)
                body.append(
                    f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(w - 0.5, 0.5):.1f}" '
                    f'height="{self._y(0, ymax) - y:.1f}" fill="{color}"/>'
                )
        for i, label in enumerate(labels):
            x = self._x((i + 0.5) * group_w)
            y = self.H - self.BOTTOM + 8
            body.append(
                f'<text x="{x:.1f}" y="{y}" font-size="8" text-anchor="end" '
                f'transform="rotate(-45 {x:.1f} {y})">{escape(_short(label, 14))}</text>'
            )
        return body, ymax

    def _svg(self, title: str, body: list[str], ymax: float, series) -> str:
        base = self._y(0, ymax)
        axes = [
            f'<line x1="{self.LEFT}" y1="{base:.1f}" x2="{self.W - self.RIGHT}" y2="{base:.1f}" stroke="#444"/>',
            f'<line x1="{self.LEFT}" y1="{self.TOP}" x2="{self.LEFT}" y2="{base:.1f}" stroke="#444"/>',
            f'<text x="{self.LEFT - 3}" y="{self.TOP + 8}" font-size="8" text-anchor="end">{ymax / 1.05:.2f}</text>',
            f'<text x="{self.LEFT - 3}" y="{base:.1f}" font-size="8" text-anchor="end">0</text>',
            f'<text x="{self.W / 2}" y="14" font-size="11" text-anchor="middle" font-weight="bold">'
            f"{escape(_short(title, 48))}</text>",
        ]
        legend, x = [], self.W - self.RIGHT
        for name, _, color in reversed(series):
            label = escape(_short(name, 16))
            x -= 12 + 5.5 * len(_short(name, 16))
            legend.append(
                f'<rect x="{x:.1f}" y="{self.TOP - 2}" width="8" height="8" fill="{color}"/>'
                f'<text x="{x + 10:.1f}" y="{self.TOP + 6}" font-size="8">{label}</text>'
            )
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.W}" height="{self.H}" '
            f'viewBox="0 0 {self.W} {self.H}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>{"".join(axes + body + legend)}</svg>'
        )
        return base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _axis_label(value: float, kind: str) -> str:
    if kind == "datetime":
        return str(pd.Timestamp(value * 86_400e9).strftime("%Y-%m-%d"))
    if abs(value) >= 1e5 or (abs(value) < 1e-2 and value != 0):
        return f"{value:.3g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def correlation_heatmaps(matrices: list[tuple[str, pd.DataFrame]]) -> str:
    """Side-by-side Spearman heatmaps (real first), plus |difference| when there is one synthetic set."""
    panels = list(matrices)
    if len(panels) == 2:
        panels.append(("|real − " + panels[1][0] + "|", (panels[0][1] - panels[1][1]).abs()))
    n = len(panels)
    size = panels[0][1].shape[0]
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    image = None
    for ax, (title, m) in zip(axes[0], panels, strict=True):
        image = ax.imshow(m.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        ax.set_title(_short(title, 30), fontsize=9)
        if size <= 25:
            ax.set_xticks(range(size))
            ax.set_yticks(range(size))
            ax.set_xticklabels([_short(c, 10) for c in m.columns], rotation=90, fontsize=5)
            ax.set_yticklabels([_short(c, 10) for c in m.index], fontsize=5)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8)
    out = _png(fig)
    plt.close(fig)
    return out


def pca_projection(real_x: np.ndarray, sets: list[tuple[str, np.ndarray]], seed: int) -> str:
    """2-D PCA fitted on the encoded real rows, drawn as densities (not points, so no row is shown):
    the real density filled, each synthetic set's density as contour lines over it."""
    rng = np.random.default_rng(seed)

    def sample(x):
        return x[rng.choice(len(x), min(PCA_ROWS, len(x)), replace=False)] if len(x) else x

    real_s = sample(real_x)
    pca = PCA(n_components=2, random_state=seed).fit(real_s)
    r2 = pca.transform(real_s)
    (x0, x1), (y0, y1) = np.quantile(r2[:, 0], [0.01, 0.99]), np.quantile(r2[:, 1], [0.01, 0.99])
    pad_x, pad_y = 0.15 * (x1 - x0 or 1.0), 0.15 * (y1 - y0 or 1.0)
    xe = np.linspace(x0 - pad_x, x1 + pad_x, 41)
    ye = np.linspace(y0 - pad_y, y1 + pad_y, 41)

    def density(points):
        h, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=[xe, ye])
        return h.T / max(h.sum(), 1.0)

    real_h = density(r2)
    n = len(sets)
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.4), squeeze=False)
    centers = (0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]))
    for i, (ax, (name, x)) in enumerate(zip(axes[0], sets, strict=True)):
        syn_h = density(pca.transform(sample(x)))
        ax.imshow(real_h, origin="lower", extent=(xe[0], xe[-1], ye[0], ye[-1]), aspect="auto", cmap="Blues")
        if syn_h.max() > 0:
            levels = np.quantile(syn_h[syn_h > 0], [0.5, 0.75, 0.9, 0.97])
            ax.contour(
                *centers,
                syn_h,
                levels=np.unique(levels),
                colors=SET_COLORS[i % len(SET_COLORS)],
                linewidths=1.0,
            )
        ax.set_title(f"PCA: real (fill) vs {_short(name, 20)} (lines)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    out = _png(fig)
    plt.close(fig)
    return out
