"""Opens report.html in headless Chromium (Debian's `chromium` package) and checks every plot renders.

The report carries a tiny inline script that waits for each embedded image to decode and then sets
`data-render="ok"` and `data-plots-rendered` on <body>; `--dump-dom` after a virtual-time budget prints the
live DOM, so the test reads what the browser actually rendered, with no driver or network.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import seedgen

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def _dump_dom(path, profile) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _tables(seed: int):
    rng = np.random.default_rng(seed)
    n = 800
    x = rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "income": np.round(np.exp(10 + 0.5 * x), 2),
            "score": np.round(600 + 50 * x + rng.normal(0, 20, n)),
            "state": rng.choice([f"S{i}" for i in range(30)], n),  # more categories than a bar plot shows
            "owner": np.where(x > 0, "own", "rent"),
            "opened": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
            "good": np.where(x + rng.normal(0, 1, n) > 0, "yes", "no"),
        }
    )


def test_report_renders_every_plot_in_chromium(tmp_path):
    real, syn, hold = _tables(0), _tables(1), _tables(2)
    out = tmp_path / "report"
    seedgen.compare(
        real,
        [syn, syn.sample(frac=1, random_state=3)],
        out,
        names=["A", "B"],
        holdout=hold,
        target="good",
        quiet=True,
    )
    report = out / "report.html"
    html = report.read_text()
    expected = int(re.search(r'data-plots="(\d+)"', html).group(1))
    assert expected == 6 + 2  # one distribution per column, the heatmaps, the PCA projection
    assert html.count('class="plot"') == expected
    proc = _dump_dom(report, tmp_path / "chromium-profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-render="ok"' in dom, dom[:500]
    assert f'data-plots-rendered="{expected}"' in dom
    assert "Headline scores" in dom and "Privacy" in dom and "Utility" in dom
