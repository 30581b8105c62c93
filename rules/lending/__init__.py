"""The `lending` rule pack: loan formulas and grade conventions of consumer-lending tables.

It registers exactly like a user's pack (entry point `lending = "seedgen.rules.lending"` in the
`seedgen.rules` group, or ``--rules lending``). Column names are the Lending Club ones; a rule whose
columns a table lacks is skipped with a log line.

Every rule here answers to the real data: the engine measures each rule's support on the real table (the
seeds' DomainRule entries, or the ``--real`` table) and only enforces rules the real data keeps.
"""

from __future__ import annotations

from seedgen.rules.lending.rules import (
    emi,
    emi_installment,
    grade_subgrade,
    mortgage_accounts,
    rate_band,
    robust_bands,
)

__all__ = ["emi", "emi_installment", "grade_subgrade", "mortgage_accounts", "rate_band", "robust_bands"]
