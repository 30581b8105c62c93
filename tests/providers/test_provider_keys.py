"""API keys: environment only, never printed, pickled or echoed."""

from __future__ import annotations

import pickle

import pytest

from seedgen.keys import Secret, redact, resolve_key


def test_resolution_order(monkeypatch):
    assert resolve_key(None, ["OPENAI_API_KEY"]) is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-own-111111")
    assert resolve_key(None, ["OPENAI_API_KEY"]).source == "OPENAI_API_KEY"
    monkeypatch.setenv("SEEDGEN_API_KEY", "sk-generic-222222")
    key = resolve_key(None, ["OPENAI_API_KEY"])
    assert key.reveal() == "sk-generic-222222" and key.source == "SEEDGEN_API_KEY"
    assert resolve_key("sk-explicit-333333", ["OPENAI_API_KEY"]).reveal() == "sk-explicit-333333"


def test_a_secret_never_shows_itself():
    secret = Secret("sk-live-abcdef123456", "OPENAI_API_KEY")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret}", repr([secret])):
        assert "abcdef" not in shown and "OPENAI_API_KEY" in shown
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_redact():
    secret = Secret("sk-live-abcdef123456")
    assert redact("bad key sk-live-abcdef123456 given", secret) == "bad key *** given"
    assert redact("text", None, Secret("")) == "text"
