"""API keys: read from the environment only, held in a wrapper that never prints itself.

Why a wrapper: a key stored as a plain `str` attribute ends up in `repr()`, tracebacks with locals, debug
logs and pickled state. `Secret` renders as `***` everywhere; only `reveal()` hands the value to the one
place that needs it (an HTTP header or an SDK constructor). `redact()` scrubs a key from any text an
endpoint echoes back (some servers quote the request headers in their error bodies).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

#: the generic variable every provider reads first, so one export works for any endpoint
GENERIC_KEY_VAR = "SEEDGEN_API_KEY"


class Secret:
    """A string that is never shown: `repr`, `str` and formatting all give `***`."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        #: where the key came from (an environment variable name), safe to show
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(***{', from ' + self.source if self.source else ''})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the key to disk: refuse
        raise TypeError("a Secret cannot be pickled")


def resolve_key(explicit: str | None, env_vars: Iterable[str]) -> Secret | None:
    """The API key to use: an explicit value, else `SEEDGEN_API_KEY`, else the provider's own variables.

    Returns None when nothing is set; providers that need a key turn that into an error naming the
    variables (see `Provider._require_key`).
    """
    if explicit:
        return Secret(explicit, "argument")
    for var in (GENERIC_KEY_VAR, *env_vars):
        value = os.environ.get(var, "").strip()
        if value:
            return Secret(value, var)
    return None


def redact(text: str, *secrets: Secret | None) -> str:
    """`text` with every occurrence of the given keys replaced by `***`."""
    for secret in secrets:
        if secret:
            value = secret.reveal()
            if len(value) >= 4:  # a 1-3 character "key" would blank out ordinary words
                text = text.replace(value, "***")
    return text
