"""The wheel built from the repository installs into a fresh environment and `seedgen profile` runs from it,
finding its templates (`seedgen.prompts`) and rule packs (`seedgen.rules`) inside the installed package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_profiles(tmp_path, loans_path):
    dist = tmp_path / "dist"
    # Build from a copy: an in-tree build would leave build/ behind, and stale files there could ship.
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "venv",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".*cache",
            "examples",
            "runs",
            "out",
        ),
    )
    # No build isolation: setuptools is already in this environment and CI may be offline.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(dist.glob("seedgen-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "seedgen/prompts/seed_instruction.j2" in names
    assert "seedgen/rules/__init__.py" in names
    for pack in (ROOT / "rules").iterdir():  # every rule pack folder ships as seedgen.rules.<pack>
        if (pack / "__init__.py").exists():
            assert f"seedgen/rules/{pack.name}/__init__.py" in names
    assert not any(n.startswith(("prompts/", "rules/", "evaluators/")) for n in names)  # no generic top-level

    # A fresh venv without seedgen; third-party dependencies come from this environment's site-packages
    # through a plain path entry (which, unlike a site dir, does not load the editable install's finder).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.check_output(
        [py, "-c", "import seedgen, seedgen.prompts, seedgen.rules; print(seedgen.__file__)"],
        text=True,
        cwd=tmp_path,
        env=env,
    ).strip()
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout

    out = tmp_path / "seeds.json"
    small = tmp_path / "loans.csv"
    small.write_text("".join(loans_path.read_text().splitlines(keepends=True)[:1501]))
    proc = subprocess.run(
        [venv / "bin" / "seedgen", "profile", str(small), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    seeds = json.loads(out.read_text())
    assert seeds["instructions"] and '"interest_rate"' in seeds["instructions"][0]["text"]
    assert any(r["kind"] == "functional_dependency" for r in seeds["rules"])
