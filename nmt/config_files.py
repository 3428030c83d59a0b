"""YAML config files to typed, validated dataclasses, whatever the schema: `base:` files merged,
`--set section.key=value` applied, every key's type and range checked, one-line ConfigErrors
that name the key. The schemas themselves live in nmt/config.py (translation) and
nmt/lm/config.py (the character model). Imports no torch."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from nmt.errors import ConfigError


def value_range(low: float | None = None, high: float | None = None, *, below: bool = False) -> dict:
    """Field metadata for a numeric range: low <= x <= high (x < high when `below`)."""
    return {"low": low, "high": high, "below": below}


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_describe(a) for a in inner) + " or null"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; return it converted (int -> float, ...)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, inner, key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is list and not dataclasses.is_dataclass(typing.get_args(tp)[0]):  # a list of values, maybe empty
        if not isinstance(value, list):
            raise ConfigError(f"config: {key} = {value!r} is not valid: expected a list of {_describe(typing.get_args(tp)[0])}")
        return [_coerce(element, typing.get_args(tp)[0], f"{key}[{index}]") for index, element in enumerate(value)]
    if origin is list:  # a list of sections; a single mapping is a list of one
        (item,) = typing.get_args(tp)
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not value:
            raise ConfigError(f"config: {key} = {value!r} is not valid: expected a mapping or a non-empty list of them")
        return [_coerce(element, item, f"{key}[{index}]") for index, element in enumerate(value)]
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(tp)
    if origin is Literal:
        ok = value in typing.get_args(tp)
    if not ok:
        raise ConfigError(f"config: {key} = {value!r} is not valid: expected {_describe(tp)}")
    return float(value) if tp is float else value


def _check_range(value: Any, meta: typing.Mapping, key: str) -> None:
    low, high, below = meta.get("low"), meta.get("high"), meta.get("below", False)
    if value is None or low is None and high is None:
        return
    too_high = high is not None and (value >= high if below else value > high)
    if (low is not None and value < low) or too_high:
        bounds = f"at least {low}" if high is None else f"in [{low}, {high}{')' if below else ']'}"
        raise ConfigError(f"config: {key} = {value!r} is out of range: expected {bounds}")


def _build(cls: Any, raw: Any, prefix: str) -> Any:
    """Build dataclass `cls` from the mapping `raw`; `prefix` is its dotted path for messages."""
    where = prefix or "the top level"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {where} must be a mapping of keys to values, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (valid keys: {', '.join(fields)})"
            raise ConfigError(f"config: unknown key '{dotted}'{hint}")
        values[key] = _coerce(value, hints[key], dotted)
        _check_range(values[key], fields[key].metadata, dotted)
    return cls(**values)


# ---------------------------------------------------------------- files and overrides

def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config: cannot read {path}: {err}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"config: {path}{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a mapping of keys to values")
    return raw


def _merge(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_file(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A config file as a mapping, its `base:` files merged under it (not yet validated)."""
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"config: {path} includes itself through 'base'")
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw
    bases = base if isinstance(base, list) else [base]
    if not bases or not all(isinstance(item, str) for item in bases):
        raise ConfigError(f"config: base = {base!r} in {path} is not valid: expected a file path or a list of them")
    merged: dict = {}
    for item in bases:
        merged = _merge(merged, read_config_file(path.parent / item, seen + (resolved,)))
    return _merge(merged, raw)


def parse_override(item: str) -> tuple[str, Any]:
    """`section.key=value` -> (the dotted key, the value parsed as YAML: '3' -> 3, 'true' -> True; text that
    is not YAML stays text)."""
    dotted, sep, text = item.partition("=")
    if not sep or not dotted.strip():
        raise ConfigError(f"config: --set {item!r} is not valid: expected section.key=value")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return dotted.strip(), value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` strings (see parse_override)."""
    raw = _merge({}, raw)
    for item in overrides:
        dotted, value = parse_override(item)
        parts = dotted.split(".")
        node: Any = raw
        for depth, part in enumerate(parts):
            key: str | int = part
            if isinstance(node, list):  # data.train listing corpora: data.train.1.weight
                if not part.isdigit() or int(part) >= len(node):
                    where, rest = ".".join(parts[:depth]), ".".join(parts[depth + part.isdigit():])
                    raise ConfigError(f"config: --set {item!r}: {where} is a list of {len(node)}; name one by its "
                                      f"number, from 0: {where}.0.{rest}")
                key = int(part)
            if depth == len(parts) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
                    node[part] = {}
                node = node[key]
    return raw


def validated_config(raw: dict, schema: type) -> Any:
    """A validated `schema` (a task's config dataclass, with a `check()` for rules between keys) from a mapping.
    nmt.tasks.load_config, which picks the schema from `task:`, is the way in from outside."""
    cfg = _build(schema, raw, "")
    if hasattr(cfg, "check"):
        cfg.check()
    return cfg


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write the resolved config (every key, defaults included) so a run can be rebuilt from it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
