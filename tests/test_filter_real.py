"""The real data is the reference: built-in and lending rules accept (nearly) every real row.

Both example tables are profiled by `seedgen.profiling.profile` exactly as a user would, then checked
against every rule that profile yields plus the lending pack. A rule that rejects real rows is wrong.
"""

from __future__ import annotations

import pytest

from seedgen.filtering import check_rows, domain_rules
from seedgen.io import read_table
from seedgen.profiling import profile
from seedgen.schema import coerce

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["loans", "credit"])
def profiled(request, loans_path, credit_path, tmp_path_factory):
    path = loans_path if request.param == "loans" else credit_path
    target = None if request.param == "loans" else "Class"
    seeds = profile(path, tmp_path_factory.mktemp("seeds") / "seeds.json", target=target, quiet=True)
    return request.param, seeds, read_table(path).data


def test_real_rows_pass_builtin_and_lending_rules(profiled):
    name, seeds, data = profiled
    report = check_rows(coerce(data, seeds.columns), seeds, rules=["lending"])
    assert report.pass_rate >= 0.995, report.reason_counts()
    # and no single rule rejects more than 0.5 % of real rows
    enforced = report.stats[report.stats["status"] == "enforced"]
    assert (enforced["failed"] <= 0.005 * report.n).all(), enforced[["code", "failed"]]


def test_real_rows_pass_with_the_real_table_as_reference(profiled):
    name, seeds, data = profiled
    report = check_rows(coerce(data, seeds.columns), seeds, rules=["lending"], reference=data)
    assert report.pass_rate >= 0.995, report.reason_counts()
    if name == "loans":
        stats = report.stats.set_index("code")
        # 12 % of real MORTGAGE borrowers list no mortgage account: the rule is reported, never enforced
        assert stats.loc["LN04", "status"] == "advisory"
        assert 0.9 < stats.loc["LN04", "reference_support"] < 0.99
        assert stats.loc["LN01", "status"] == "enforced" and stats.loc["LN03", "status"] == "enforced"


def test_domain_rules_measured_for_the_profile(profiled):
    name, seeds, data = profiled
    found = {r.code: r for r in domain_rules(data, seeds)}
    if name == "loans":
        assert set(found) == {"LN01", "LN02", "LN03", "LN04"}
        assert found["LN01"].support >= 0.999 and found["LN02"].support == 1.0
        assert found["LN04"].support < 0.95
        with_domain = seeds.model_copy(update={"rules": [*seeds.rules, *found.values()]})
        # listed in the seeds, the pack's rules run without --rules, and real rows still pass
        report = check_rows(coerce(data, seeds.columns), with_domain)
        assert {"LN01", "LN02", "LN03"} <= set(report.stats.query("status == 'enforced'")["code"])
        assert report.pass_rate >= 0.995
    else:
        # the credit table has no installment/grade/homeownership columns: nothing applies
        assert found == {}
