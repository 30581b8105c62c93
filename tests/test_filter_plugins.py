"""User rules: files given with --rules, packs in the `seedgen.rules` entry-point group, and broken ones."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint

import pandas as pd
import pytest

from seedgen.errors import RuleError
from seedgen.filtering import check_rows, plugins, rule
from seedgen.filtering.registry import RuleSet
from seedgen.schema import ColumnSpec
from seedgen.seeds import ProfileSettings, SeedFile, SourceInfo

SEEDS = SeedFile(
    source=SourceInfo(file="t.csv", rows=3, columns=2),
    settings=ProfileSettings(),
    columns=[
        ColumnSpec(name="price", kind="numeric", decimals=2, min=0.0, max=100.0),
        ColumnSpec(name="qty", kind="integer", decimals=0, min=0.0, max=50.0),
    ],
    clusters=[],
)
FRAME = pd.DataFrame({"price": [10.0, 60.0, 5.0], "qty": [1.0, 2.0, 40.0]})

GOOD = '''
import pandas as pd
from seedgen.filtering import rule


def _cap(df, ctx, failed):
    return pd.DataFrame({"qty": df["qty"].clip(upper=30)})


@rule("shop.bulk_cap", code="SH01", columns=("qty",), fix=_cap, reason="qty above 30")
def bulk_cap(df):
    """No order holds more than 30 items.

    **Anti-pattern**: ``qty = 40``.

    **Best practice**: ``qty = 30``.
    """
    return df["qty"] <= 30


@rule("shop.cheap_bulk", code="SH02", columns=("price", "qty"))
def cheap_bulk(df, ctx):
    """Orders over 50 cost less than 50 per item.

    **Anti-pattern**: ``price = 60, qty = 2``.

    **Best practice**: ``price = 40, qty = 2``.
    """
    return (df["price"] < 50) | (df["qty"] < 2)
'''


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_rules_file_is_loaded_and_applied(tmp_path):
    path = write(tmp_path, "shop_rules.py", GOOD)
    report = check_rows(FRAME, SEEDS, rules=[str(path)], fix=True)
    assert report.passed.tolist() == [True, False, True]
    assert report.frame["qty"].tolist() == [1.0, 2.0, 30.0]
    assert report.reasons[1] == "SH02 Orders over 50 cost less than 50 per item"
    # loading the same file again is not a duplicate
    check_rows(FRAME, SEEDS, rules=[str(path), str(path)])


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("x = 1\ndef broken(:\n    pass\n", 2, "syntax error"),
        ("import pandas\nraise ValueError('boom')\n", 2, "ValueError: boom"),
        (
            "from seedgen.filtering import rule\n\n@rule('a.b', code='XX01')\ndef f(df):\n    return df\n",
            3,
            "has no docstring",
        ),
        (
            "from seedgen.filtering import rule\n\n@rule('Bad Name', code='XX01')\ndef f(df):\n    '''d'''\n",
            3,
            "name must be dotted lower-case",
        ),
    ],
)
def test_a_broken_rules_file_names_file_and_line(tmp_path, text, line, what):
    path = write(tmp_path, "mine.py", text)
    with pytest.raises(RuleError) as e:
        check_rows(FRAME, SEEDS, rules=[str(path)])
    msg = e.value.one_line()
    assert f"mine.py:{line}:" in msg and what in msg


def test_a_file_without_rules_or_missing_is_an_error(tmp_path):
    with pytest.raises(RuleError, match="defines no rules"):
        check_rows(FRAME, SEEDS, rules=[str(write(tmp_path, "empty.py", "x = 1\n"))])
    with pytest.raises(RuleError, match="no such rules file"):
        check_rows(FRAME, SEEDS, rules=[str(tmp_path / "nope.py")])


def test_duplicate_codes_fail(tmp_path):
    a = write(tmp_path, "a.py", GOOD)
    b = write(tmp_path, "b.py", GOOD)
    with pytest.raises(RuleError, match="duplicate rule code SH01"):
        check_rows(FRAME, SEEDS, rules=[str(a), str(b)])
    with pytest.raises(RuleError, match="duplicate rule code LN01"):
        clash = write(tmp_path, "clash.py", GOOD.replace("SH01", "LN01"))
        check_rows(FRAME, SEEDS, rules=["lending", str(clash)])


def test_a_rule_that_crashes_names_itself_and_the_line(tmp_path):
    path = write(
        tmp_path,
        "crash.py",
        '''
        from seedgen.filtering import rule

        @rule("shop.crash", code="SH09")
        def crash(df):
            """Crashes.

            **Anti-pattern**: x. **Best practice**: y.
            """
            return df["no_such_column"] > 0
    ''',
    )
    with pytest.raises(RuleError) as e:
        check_rows(FRAME, SEEDS, rules=[str(path)])
    assert "rule SH09 shop.crash failed: KeyError" in str(e.value) and "crash.py:10" in str(e.value)


def test_a_rule_returning_the_wrong_thing_is_named(tmp_path):
    path = write(
        tmp_path,
        "wrong.py",
        '''
        from seedgen.filtering import rule

        @rule("shop.wrong", code="SH08")
        def wrong(df):
            """Returns a number."""
            return 3
    ''',
    )
    with pytest.raises(RuleError, match="rule SH08 shop.wrong .* returned int"):
        check_rows(FRAME, SEEDS, rules=[str(path)])


def test_entry_point_packs_load_like_the_shipped_one(tmp_path, monkeypatch):
    pkg = tmp_path / "shop_pack"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(GOOD))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = dict(plugins.installed_packs())
    eps["shop"] = EntryPoint(name="shop", value="shop_pack", group="seedgen.rules")
    monkeypatch.setattr(plugins, "installed_packs", lambda: eps)
    report = check_rows(FRAME, SEEDS, rules=["shop"], fix=False)
    assert report.passed.tolist() == [True, False, False]
    # single rules of an installed pack can be named by code
    assert check_rows(FRAME, SEEDS, rules=["SH01"], fix=False).passed.tolist() == [True, True, False]
    sys.modules.pop("shop_pack", None)


def test_the_lending_pack_is_an_entry_point():
    assert plugins.installed_packs()["lending"].value == "seedgen.rules.lending"
    codes = [r.code for r in plugins.load_pack("lending")]
    assert codes == ["LN01", "LN02", "LN03", "LN04"]


def test_decorator_checks_codes_and_selection():
    with pytest.raises(RuleError, match="code 'L1' must look like 'LN01'"):
        rule("a.b", code="L1")(lambda df: df)
    rs = RuleSet(plugins.load_pack("lending"))
    assert [r.code for r in rs.select(["lending"])] == ["LN01", "LN02", "LN03", "LN04"]
    assert [r.code for r in rs.select(["lending.rate_band", "LN01"])] == ["LN03", "LN01"]
    with pytest.raises(RuleError, match="unknown rule 'XX99'"):
        rs.select(["XX99"])


def test_rule_objects_can_be_passed_from_python():
    @rule("shop.cheap", code="SH05", columns=("price",))
    def cheap(df):
        """Prices stay under 50.

        **Anti-pattern**: ``price = 60``. **Best practice**: ``price = 40``.
        """
        return df["price"] < 50

    assert check_rows(FRAME, SEEDS, rules=[cheap]).passed.tolist() == [True, False, True]
