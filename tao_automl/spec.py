"""Nested specs: template + overrides + recommendation, dotted keys expanded, batch capping.

Specs written to disk never contain dotted keys: TAO's config loaders read nested YAML only.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from tao_automl.errors import ConfigurationError

_INDEX_RE = re.compile(r"^(?P<key>[^\[\]]+)((?:\[\d+\])*)$")


def _split(dotted: str) -> list[str | int]:
    """``a.b[0].c`` -> ``["a", "b", 0, "c"]``."""
    parts: list[str | int] = []
    for chunk in dotted.split("."):
        m = _INDEX_RE.match(chunk)
        if not chunk or not m:
            raise ConfigurationError(f"malformed key '{dotted}'", field=dotted)
        parts.append(m.group("key"))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", chunk))
    return parts


def set_dotted(spec: dict[str, Any], dotted: str, value: Any) -> None:
    """Assign ``value`` at a dotted path, creating nested dicts (and list slots) on the way."""
    parts = _split(dotted)
    node: Any = spec
    for part, nxt in itertools.pairwise(parts):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({} if not isinstance(nxt, int) else [])
            if node[part] is None:
                node[part] = {} if not isinstance(nxt, int) else []
            node = node[part]
            continue
        child = node.get(part)
        if not isinstance(child, dict | list):
            child = [] if isinstance(nxt, int) else {}
            node[part] = child
        node = child
    last = parts[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = copy.deepcopy(value)


def get_dotted(spec: dict[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = spec
    for part in _split(dotted):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def expand_dotted(data: dict[str, Any]) -> dict[str, Any]:
    """Turn any dotted keys (at any depth) into nested dicts; nested input passes through."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        # copies: a later ``a[0].b`` key must not write into a list the caller still holds
        value = expand_dotted(value) if isinstance(value, dict) else copy.deepcopy(value)
        if "." in key or "[" in key:
            existing = get_dotted(out, key)
            if isinstance(existing, dict) and isinstance(value, dict):
                value = deep_merge(existing, value)
            set_dotted(out, key, value)
        elif isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge; ``update`` wins; neither input is mutated."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def flatten(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested spec -> ``{dotted: leaf}`` (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _known_paths(schema: dict[str, Any], template: dict[str, Any]) -> set[str]:
    paths = set(flatten(template))

    def walk(node: dict[str, Any], prefix: str) -> Iterator[str]:
        for key, child in (node.get("properties") or {}).items():
            name = f"{prefix}{key}"
            yield name
            if isinstance(child, dict):
                yield from walk(child, f"{name}.")

    return paths | set(walk(schema, ""))


def validate_override_keys(
    overrides: dict[str, Any], schema: dict[str, Any], template: dict[str, Any], field: str = "spec_overrides"
) -> None:
    """Refuse keys that exist in neither the schema nor the template, with a "did you mean"."""
    known = _known_paths(schema, template)
    for dotted in flatten(expand_dotted(overrides)):
        if _path_allowed(dotted, schema, template):
            continue
        plain = re.sub(r"\[\d+\]", "", dotted)
        close = difflib.get_close_matches(plain, sorted(known), n=1, cutoff=0.75)
        hint = f"did you mean '{close[0]}'?" if close else "check the model's train schema for the key"
        raise ConfigurationError(f"unknown spec key '{dotted}'", field=f"{field}.{dotted}", hint=hint)


def _path_allowed(dotted: str, schema: dict[str, Any], template: dict[str, Any]) -> bool:
    """True when the path exists, or passes through a free-form node (no declared properties)."""
    node: Any = schema
    for part in _split(dotted):
        if isinstance(part, int):
            continue
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict) or not props:
            # only containers are free-form; nothing lives below a scalar leaf such as train.optim.lr
            if isinstance(node, dict) and _is_container(node):
                return True
            return get_dotted(template, dotted, _MISSING) is not _MISSING
        if part not in props:
            return get_dotted(template, dotted, _MISSING) is not _MISSING
        node = props[part]
    return True


def _is_container(node: dict[str, Any]) -> bool:
    """A schema node without declared properties that still holds keys (collection, dict, list)."""
    kind = str(node.get("type", "")).lower()
    if kind in ("collection", "object", "dict", "list", "array"):
        return True
    return not kind and isinstance(node.get("default"), dict | list)


_MISSING = object()


class BatchCap(BaseModel):
    """The ``effective_batch_cap`` adjustment record (DESIGN §2)."""

    type: str = "effective_batch_cap"
    key: str
    from_: int
    to: int
    sample_count: int
    shards: int
    reason: str

    def record(self) -> dict[str, Any]:
        data = self.model_dump()
        data["from"] = data.pop("from_")
        return data


def batch_keys(spec: dict[str, Any]) -> list[str]:
    """Training batch-size keys present in a spec (``train.batch_size``, ``dataset.batch_size``...)."""
    return [
        k
        for k, v in flatten(spec).items()
        if k.rsplit(".", 1)[-1] in ("batch_size", "train_batch_size")
        and k.split(".", 1)[0] in ("train", "dataset", "data", "training")
        and isinstance(v, int)
        and not isinstance(v, bool)
    ]


def cap_batch_sizes(spec: dict[str, Any], sample_count: int, shards: int) -> tuple[list[BatchCap], str | None]:
    """Cap every training batch size at ``floor(sample_count / shards)`` in place.

    Returns the adjustments and, when even a batch of one is impossible, the reason the
    configuration is invalid (then nothing may be launched).
    """
    shards = max(1, shards)
    cap = sample_count // shards
    if cap < 1:
        return [], (
            f"invalid_configuration: {sample_count} training samples cannot feed {shards} shard(s) "
            "with at least one sample each (zero training steps)"
        )
    caps: list[BatchCap] = []
    for key in batch_keys(spec):
        value = get_dotted(spec, key)
        if value > cap:
            set_dotted(spec, key, cap)
            caps.append(
                BatchCap(
                    key=key,
                    from_=value,
                    to=cap,
                    sample_count=sample_count,
                    shards=shards,
                    reason=f"batch {value} x {shards} shard(s) exceeds {sample_count} samples: zero training steps",
                )
            )
    return caps, None
