"""Prompt templates: sandboxed, strict about variables, data values quoted, user folder overrides."""

from __future__ import annotations

import pytest

from seedgen.errors import ConfigError, UserInputError
from seedgen.templating import fmt_number, quote, render_template


def test_user_folder_overrides_builtin(tmp_path):
    (tmp_path / "seed_instruction.j2").write_text("cluster {{ cluster.id }} of {{ table | q }}")
    text = render_template("seed_instruction.j2", {"cluster": {"id": 3}, "table": 'a"b'}, tmp_path)
    assert text == 'cluster 3 of "a\\"b"\n'


def test_strict_undefined_and_sandbox(tmp_path):
    (tmp_path / "t.j2").write_text("{{ missing }}")
    with pytest.raises(ConfigError, match="undefined"):
        render_template("t.j2", {}, tmp_path)
    (tmp_path / "evil.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(ConfigError, match="unsafe"):
        render_template("evil.j2", {}, tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        render_template("nope.j2", {}, tmp_path)
    with pytest.raises(UserInputError, match="prompts folder"):
        render_template("t.j2", {}, tmp_path / "absent")


def test_filters():
    assert quote("line\nbreak") == '"line\\nbreak"'
    assert quote(None) == "null"
    assert [fmt_number(v) for v in (60910.4, 0.0001573, 3.0, 16.284)] == ["60910", "0.0001573", "3", "16.28"]
