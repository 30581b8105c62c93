"""Fresh synthetic keys in the shape of the real ones (key columns are never drawn from real values)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from seedgen.sampler.model import IdPattern

_CLASSES = {
    "<9>": "0123456789",
    "<A>": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "<a>": "abcdefghijklmnopqrstuvwxyz",
    "<X>": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "<x>": "0123456789abcdefghijklmnopqrstuvwxyz",
    "<*>": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
}


def _position_token(chars: set[str]) -> str:
    if len(chars) == 1:
        return next(iter(chars))
    if all(c.isdigit() for c in chars):
        return "<9>"
    if all(c.isupper() for c in chars):
        return "<A>"
    if all(c.islower() for c in chars):
        return "<a>"
    if all(c.isdigit() or c.isupper() for c in chars):
        return "<X>"
    if all(c.isdigit() or c.islower() for c in chars):
        return "<x>"
    return "<*>"


def fit_id(values: pd.Series) -> IdPattern:
    """Learn a key column's shape: numeric keys continue after the maximum, strings keep their pattern."""
    v = values.dropna()
    if pd.api.types.is_numeric_dtype(v):
        x = np.sort(v.astype(float).unique())
        diffs = np.diff(x)
        step = float(np.median(diffs)) if diffs.size else 1.0
        step = step if step > 0 else 1.0
        return IdPattern(numeric=True, start=float(x[-1] + step) if x.size else 1.0, step=step)
    s = v.astype(str)
    parts = s.str.extract(r"^(\D*)(\d+)$")
    if not s.empty and parts[0].notna().all() and parts[0].nunique() == 1:
        # prefix + counter (INV-000123): continue the counter after the real maximum, same padding
        digits = parts[1]
        lengths = digits.str.len()
        width = int(lengths.iloc[0]) if lengths.nunique() == 1 and digits.str.startswith("0").any() else 0
        nums = np.sort(digits.astype(float).unique())
        step = float(np.median(np.diff(nums))) if nums.size > 1 else 1.0
        step = step if step >= 1 else 1.0
        return IdPattern(
            numeric=True, start=float(nums[-1] + step), step=step, prefix=parts[0].iloc[0], width=width
        )
    s = s.head(5000)
    if s.empty:
        return IdPattern(numeric=False, pattern=["<9>"] * 8)
    length = Counter(s.str.len()).most_common(1)[0][0]
    same = s[s.str.len() == length]
    tokens = [_position_token(set(same.str[i])) for i in range(length)]
    return IdPattern(numeric=False, pattern=tokens)


def draw_ids(pattern: IdPattern, n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct keys in the learned shape."""
    if pattern.numeric:
        values = pattern.start + pattern.step * np.arange(n, dtype=float)
        if pattern.prefix is None:
            return values
        return np.array([f"{pattern.prefix}{int(v):0{pattern.width}d}" for v in values], dtype=object)
    out = np.full(n, "", dtype=object)
    todo = np.arange(n)
    for _ in range(20):
        parts = []
        for tok in pattern.pattern:
            alphabet = _CLASSES.get(tok)
            if alphabet is None:
                parts.append(np.full(len(todo), tok, dtype=object))
            else:
                letters = np.array(list(alphabet), dtype=object)
                parts.append(letters[rng.integers(0, len(alphabet), len(todo))])
        fresh = np.full(len(todo), "", dtype=object)
        for p in parts:
            fresh = fresh + p
        out[todo] = fresh
        dup = pd.Series(out).duplicated().to_numpy()
        todo = np.flatnonzero(dup)
        if todo.size == 0 or not any(t in _CLASSES for t in pattern.pattern):
            break
    return out
