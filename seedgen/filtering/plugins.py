"""Finding rules: the built-ins, installed packs (entry-point group `seedgen.rules`) and user files.

`--rules lending` loads the pack registered under that name in the `seedgen.rules` entry-point group (the
shipped `lending` pack is registered there exactly like a third-party pack); `--rules path/to/my_rules.py`
imports a file. A pack is a module: every `Rule` (a function decorated with `@rule`) it defines or
re-exports is registered. Nothing loads at import time; a broken plug-in is a RuleError naming the file
and line.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import traceback
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

from seedgen.errors import RuleError
from seedgen.filtering.registry import Rule, RuleSet

log = logging.getLogger("seedgen")

GROUP = "seedgen.rules"


def builtin_rules() -> RuleSet:
    """The rules that always run: formats, categories, ranges, nulls, discovered constraints, privacy."""
    from seedgen.filtering import builtin, constraints

    rs = RuleSet()
    rs.add_module(builtin)
    rs.add_module(constraints)
    return rs


def installed_packs() -> dict[str, EntryPoint]:
    """Rule packs registered by installed distributions, by name."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _pack_rules(module: ModuleType, what: str) -> list[Rule]:
    found = RuleSet().add_module(module)
    if not found:
        raise RuleError(
            f"{what}: defines no rules", fix="decorate rule functions with @seedgen.filtering.rule(...)"
        )
    return found


def load_pack(name: str) -> list[Rule]:
    """The rules of the installed pack `name` (entry point), or of the shipped module seedgen.rules.<name>."""
    ep = installed_packs().get(name)
    target = ep.value if ep is not None else f"seedgen.rules.{name}"
    if ep is None and importlib.util.find_spec(target) is None:
        known = sorted(set(installed_packs()))
        raise RuleError(
            f"unknown rule pack {name!r}",
            fix=f"use one of: {', '.join(known) or '(none installed)'}, or a path to a rules .py file",
        )
    try:
        module = ep.load() if ep is not None else importlib.import_module(target)
    except RuleError:
        raise
    except Exception as e:
        raise RuleError(f"rule pack {name!r} ({target}) failed to load: {_located(e)}") from e
    if not isinstance(module, ModuleType):
        raise RuleError(f"rule pack {name!r}: entry point {target} must name a module")
    return _pack_rules(module, f"rule pack {name!r}")


@lru_cache(maxsize=64)
def _import_file(path: str, mtime: float) -> ModuleType:
    # Cached by path and modification time: loading a file twice gives the same Rule objects, not duplicates.
    name = "seedgen_user_rules_" + str(abs(hash(path)))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuleError(f"{path}: cannot be imported as Python", fix="give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise RuleError(f"{path}:{e.lineno}: syntax error: {e.msg}", fix="fix the rules file") from e
    except RuleError as e:
        sys.modules.pop(name, None)
        raise RuleError(f"{path}:{_line_in(e, path)}: {e}", fix=e.fix) from e
    except Exception as e:
        sys.modules.pop(name, None)
        raise RuleError(
            f"{path}:{_line_in(e, path)}: {type(e).__name__}: {e}",
            fix="fix the rules file (it must import cleanly)",
        ) from e
    return module


def load_file(path: str | os.PathLike) -> list[Rule]:
    """The rules defined in a user's .py file."""
    path = os.path.abspath(str(path))
    if not os.path.isfile(path):
        raise RuleError(
            f"{path}: no such rules file", fix="give a path to a .py file or an installed pack name"
        )
    return _pack_rules(_import_file(path, os.path.getmtime(path)), path)


def _line_in(e: BaseException, path: str) -> str:
    """The line of `path` the exception came from (the deepest frame in that file)."""
    line = "?"
    for frame in traceback.extract_tb(e.__traceback__):
        if os.path.abspath(frame.filename) == path:
            line = str(frame.lineno)
    return line


def _located(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
    if isinstance(e, SyntaxError):
        where = f" at {e.filename}:{e.lineno}"
    return f"{type(e).__name__}: {e}{where}"


def resolve(specs) -> RuleSet:
    """The rules named by `--rules` values: pack names, .py paths, or rule codes/names of installed packs
    (and, from Python, `Rule` objects and rule modules)."""
    rs = RuleSet()
    for spec in specs or ():
        # From Python, rules and rule modules can be passed as objects.
        if isinstance(spec, Rule):
            rs.add(spec)
            continue
        if isinstance(spec, ModuleType):
            for r in _pack_rules(spec, spec.__name__):
                rs.add(r)
            continue
        spec = str(spec).strip()
        if not spec:
            continue
        if spec.endswith(".py") or os.sep in spec or os.path.exists(spec):
            found = load_file(spec)
        elif spec in installed_packs() or importlib.util.find_spec(f"seedgen.rules.{spec}") is not None:
            found = load_pack(spec)
        else:
            hit = find_rule(spec)
            if hit is None:
                load_pack(spec)  # raises the "unknown rule pack" error with the list of packs
            found = [hit]
        for r in found:
            rs.add(r)
    return rs


def find_rule(key: str) -> Rule | None:
    """A rule of any installed pack by code or dotted name (used for the seeds' DomainRule entries)."""
    for name in installed_packs():
        try:
            rules = load_pack(name)
        except RuleError as e:
            log.warning("rule pack %s not loaded: %s", name, e.one_line())
            continue
        for r in rules:
            if key in (r.code, r.name):
                return r
    return None


def all_installed_rules() -> list[Rule]:
    """Every rule of every installed pack (packs that fail to load are skipped with a warning)."""
    out = []
    for name in installed_packs():
        try:
            out += load_pack(name)
        except RuleError as e:
            log.warning("rule pack %s not loaded: %s", name, e.one_line())
    return out
