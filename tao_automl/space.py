"""TAO train schema -> search space.

Range rules (documented in docs/search-space.md), applied only where the schema leaves the range
open or where its validity bounds are not a useful search range:

* learning rates and weight decays: log scale, one decade either side of the default, inside the
  schema's bounds (a ``[0, 1]`` validity range searched linearly would spend most trials at
  absurd rates);
* momentum/decay-like factors with a default near 1: ``[1-5(1-d), 1-(1-d)/5]``;
* batch sizes with an open maximum: ``[d/4, 4d]`` on a log scale;
* other open-ended numbers: ``[d/2, 2d]`` (ints) or ``[d/4, 4d]`` (floats), never ``[0, d]``.

``math_cond``: ``> x``/``>= x``/``< x``/``<= x`` tighten bounds, ``/ k`` means a multiple of k,
``^ k`` a power of k, ``> depends_on`` greater than the parent. A ``depends_on`` without a
comparison means "at most the parent" (e.g. RT-DETR's ``num_select <= num_queries``).
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from tao_automl.errors import ConfigurationError, SkillError
from tao_automl.skill import parse_flag


class ParamType(StrEnum):
    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"
    ORDERED = "ordered_int"
    BOOL = "bool"


_FLOAT_TYPES = {"float", "number"}
_INT_TYPES = {"int", "integer"}
_BOOL_TYPES = {"bool", "boolean"}
_CUSTOM_KEYS = ("valid_min", "valid_max", "valid_options", "option_weights")
#: ``math_cond`` operator before ``depends_on`` -> relation of the child to its parent.
_RELATIONS: dict[str, Literal["gt", "ge", "lt", "le"]] = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}
_ELEMENT_RE = re.compile(r"(.+)\[(\d+)\]")
_COND_RE = re.compile(r"(>=|<=|>|<|/|\^)\s*(depends_on|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")

#: Leaves that change speed or bookkeeping, not the model: excluded unless asked for by name.
_SYSTEM_LEAVES = {
    "workers",
    "num_workers",
    "num_gpus",
    "num_nodes",
    "gpu_ids",
    "seed",
    "num_epochs",
    "epochs",
    "max_epochs",
    "results_dir",
    "encryption_key",
    "num_machines",
    "log_every_n_steps",
}


def _is_system(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in _SYSTEM_LEAVES or last.endswith(("_interval", "_path", "_dir", "_file"))


def _is_rate(last: str) -> bool:
    if last in ("weight_decay", "wd"):
        return True
    if re.search(r"decay|step|size|policy|sched|warmup|factor|mult|ratio|min_lr_rate", last):
        return False
    return bool(re.fullmatch(r"(base_|init_|min_|max_)?(lr|learning_rate)(_\w+)?|\w+_lr", last))


def _is_near_one(last: str, default: Any, high: float) -> bool:
    return (
        isinstance(default, int | float)
        and 0.9 <= default < 1.0
        and (high <= 1.0 or not math.isfinite(high))  # an open maximum: such a factor still means "below 1"
        and bool(re.search(r"momentum|decay|beta", last))
    )


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class Param:
    """One searchable hyperparameter. ``name`` is the dotted spec key."""

    name: str
    type: ParamType
    default: Any = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = None
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] | None = None
    depends_on: str | None = None
    relation: Literal["gt", "ge", "lt", "le"] | None = None
    source: str = "schema"

    def distribution(self) -> BaseDistribution:
        """Optuna distribution over the *internal* encoding (index for ordered/categorical)."""
        if self.type is ParamType.FLOAT:
            return FloatDistribution(float(self.low), float(self.high), log=self.log)
        if self.type is ParamType.INT:
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=self.step or 1)
        if self.type is ParamType.ORDERED:
            return IntDistribution(0, len(self.choices) - 1)
        return CategoricalDistribution(list(range(len(self.choices))))

    def encode(self, value: Any) -> Any:
        """Spec value -> internal value understood by :meth:`distribution`."""
        if self.type in (ParamType.ORDERED, ParamType.CATEGORICAL, ParamType.BOOL):
            keys = [json.dumps(c, sort_keys=True) for c in self.choices]
            return keys.index(json.dumps(value, sort_keys=True))
        return value

    def decode(self, internal: Any) -> Any:
        """Internal value -> spec value."""
        if self.type in (ParamType.ORDERED, ParamType.CATEGORICAL, ParamType.BOOL):
            return self.choices[int(internal)]
        if self.type is ParamType.INT:
            return int(internal)
        return float(internal)

    def sample(self, rng: random.Random) -> Any:
        """One value drawn from the prior (log-uniform, weighted options, steps respected)."""
        if self.choices:
            return rng.choices(self.choices, weights=self.weights)[0]
        low, high = float(self.low), float(self.high)
        if self.type is ParamType.FLOAT:
            return math.exp(rng.uniform(math.log(low), math.log(high))) if self.log else rng.uniform(low, high)
        step = self.step or 1
        if self.log:
            value = round(math.exp(rng.uniform(math.log(low), math.log(high + 1 - 1e-9))) - 0.5)
            return int(min(max(value, low), high))
        return int(low) + step * rng.randint(0, (int(high) - int(low)) // step)

    def contains(self, value: Any) -> bool:
        if self.choices:
            return any(json.dumps(value, sort_keys=True) == json.dumps(c, sort_keys=True) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.type is ParamType.INT and (int(value) != value or (value - self.low) % (self.step or 1)):
            return False
        return self.low - 1e-12 <= value <= self.high + 1e-12

    def to_unit(self, value: Any) -> float:
        """Position of ``value`` in [0, 1] (log-aware; options by index) for evolutionary search."""
        if self.choices:
            keys = [json.dumps(c, sort_keys=True) for c in self.choices]
            index = keys.index(json.dumps(value, sort_keys=True))
            return (index + 0.5) / len(self.choices)
        low, high, x = float(self.low), float(self.high), float(value)
        if self.log:
            return (math.log(x) - math.log(low)) / (math.log(high) - math.log(low))
        return (x - low) / (high - low)

    def from_unit(self, u: float) -> Any:
        """Inverse of :meth:`to_unit`, snapped to a valid value (step, integer, option)."""
        u = min(max(float(u), 0.0), 1.0)
        if self.choices:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        low, high = float(self.low), float(self.high)
        x = math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if self.log else low + u * (high - low)
        if self.type is ParamType.INT:
            step = self.step or 1
            return int(min(max(int(low) + round((x - low) / step) * step, low), high))
        return min(max(x, low), high)

    def describe(self) -> dict[str, Any]:
        """JSON-safe description for launch reviews and reports."""
        data = asdict(self)
        data["type"] = str(self.type)
        for key in ("low", "high"):
            if isinstance(data[key], float):
                data[key] = float(f"{data[key]:.12g}")
        return {k: v for k, v in data.items() if k == "default" or not (v is None or v is False or v == ())}


@dataclass
class SearchSpace:
    """Ordered parameters (parents before children) plus what was left out and why."""

    params: list[Param]
    excluded: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def sample(self, rng: random.Random) -> dict[str, Any]:
        """A configuration drawn from the prior, with dependency constraints applied."""
        return self.repair({p.name: p.sample(rng) for p in self.params})

    def repair(self, config: dict[str, Any]) -> dict[str, Any]:
        """Enforce ``depends_on`` relations deterministically (parents are earlier in the list)."""
        out = dict(config)
        for p in self.params:
            if p.depends_on is None or p.depends_on not in out or p.name not in out:
                continue
            parent, value = out[p.depends_on], out[p.name]
            if p.relation is None or _satisfies(value, p.relation, parent):
                continue
            below = p.relation in ("le", "lt")
            strict = p.relation in ("lt", "gt")
            value = _largest_allowed(p, parent, strict=strict) if below else _smallest_above(p, parent, strict=strict)
            out[p.name] = value
            if not _satisfies(value, p.relation, parent):
                # the child's own range cannot meet this parent value (e.g. child < parent with both
                # at their minimum): move the parent instead, to the nearest value that admits the child
                parent_p = self[p.depends_on]
                out[p.depends_on] = (
                    _smallest_above(parent_p, value, strict=strict)
                    if below
                    else _largest_allowed(parent_p, value, strict=strict)
                )
        return self._repair_lists(out)

    def _repair_lists(self, config: dict[str, Any]) -> dict[str, Any]:
        """Elements of one list leaf keep the shape of its default: ascending stays ascending, equal stays equal."""
        groups: dict[str, list[Param]] = {}
        for p in self.params:
            m = _ELEMENT_RE.fullmatch(p.name)
            if m and p.name in config:
                groups.setdefault(m.group(1), []).append(p)
        for members in groups.values():
            defaults = [m.default for m in members]
            if len(members) < 2 or not all(_finite(d) for d in defaults):
                continue
            values = [config[m.name] for m in members]
            if all(d == defaults[0] for d in defaults):
                values = [values[0]] * len(values)
            elif all(a < b for a, b in itertools.pairwise(defaults)):
                values = sorted(values)
            else:
                continue
            for m, v in zip(members, values, strict=True):
                config[m.name] = type(config[m.name])(min(max(v, m.low), m.high))
        return config

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe() for p in self.params]


def _satisfies(value: Any, relation: str, parent: Any) -> bool:
    return {"gt": value > parent, "ge": value >= parent, "lt": value < parent, "le": value <= parent}[relation]


def _largest_allowed(p: Param, limit: float, strict: bool = False) -> Any:
    """Largest value of ``p`` that is ``<= limit`` (``< limit`` when strict), clamped to its range."""
    if p.choices:
        allowed = [c for c in p.choices if (c < limit if strict else c <= limit)]
        return max(allowed) if allowed else min(p.choices)
    if p.type is ParamType.INT:
        step = p.step or 1
        value = math.ceil(limit) - 1 if strict else math.floor(limit)
        value = int(p.low) + ((value - int(p.low)) // step) * step
        return int(max(p.low, min(value, p.high)))
    value = math.nextafter(float(limit), -math.inf) if strict else float(limit)
    return max(p.low, min(value, p.high))


def _smallest_above(p: Param, limit: float, strict: bool = True) -> Any:
    """Smallest value of ``p`` that is ``> limit`` (``>= limit`` when not strict), clamped to its range."""
    if p.choices:
        allowed = [c for c in p.choices if (c > limit if strict else c >= limit)]
        return min(allowed) if allowed else max(p.choices)
    if p.type is ParamType.INT:
        step = p.step or 1
        value = math.floor(limit) + 1 if strict else math.ceil(limit)
        value = int(p.low) + -(-(value - int(p.low)) // step) * step
        return int(min(max(value, int(p.low)), int(p.high)))
    value = math.nextafter(float(limit), math.inf) if strict else float(limit)
    return min(max(value, p.low), p.high)


# --------------------------------------------------------------------------- schema walking


def iter_leaves(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(dotted_name, leaf)`` for every leaf of a TAO schema."""
    for key, node in (schema.get("properties") or {}).items():
        if not isinstance(node, dict):
            continue
        name = f"{prefix}{key}"
        if isinstance(node.get("properties"), dict) and node["properties"]:
            yield from iter_leaves(node, f"{name}.")
        else:
            yield name, node


def find_leaf(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The leaf at a dotted name; for an element ``x[i]`` of a numeric list leaf, that element's own view."""
    element = _ELEMENT_RE.fullmatch(name)
    if element:
        parent = find_leaf(schema, element.group(1))
        index = int(element.group(2))
        if parent is None or not _numbers(parent.get("default")) or index >= len(parent["default"]):
            return None
        return _element_leaf(resolve_leaf(parent), index)
    node: dict[str, Any] | None = schema
    for part in name.split("."):
        props = (node or {}).get("properties")
        if not isinstance(props, dict) or part not in props:
            return None
        node = props[part]
    return node if isinstance(node, dict) else None


def parse_math_cond(cond: str | None) -> list[tuple[str, str]]:
    """``"> 0.0 <= 1.0"`` -> ``[(">", "0.0"), ("<=", "1.0")]``; tolerant of spacing."""
    return _COND_RE.findall(cond or "")


def _closest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else "check the train schema for the exact dotted name"


def validity_bounds(leaf: dict[str, Any]) -> tuple[float, float, bool, bool]:
    """Validity bounds of a numeric leaf: ``(lo, hi, exclusive_low, exclusive_high)``.

    ``minimum``/``maximum`` are inclusive; ``math_cond`` comparisons tighten them (``>``/``<`` strictly).
    """
    lo = leaf.get("minimum")
    hi = leaf.get("maximum")
    lo = float(lo) if _finite(lo) else -math.inf
    hi = float(hi) if _finite(hi) else math.inf
    exclusive_low = exclusive_high = False
    # JSON Schema's own exclusive bounds (draft 6+: numbers), beside TAO's math_cond comparisons.
    x_lo, x_hi = leaf.get("exclusiveMinimum"), leaf.get("exclusiveMaximum")
    if _finite(x_lo) and x_lo >= lo:
        lo, exclusive_low = float(x_lo), True
    if _finite(x_hi) and x_hi <= hi:
        hi, exclusive_high = float(x_hi), True
    for op, arg in parse_math_cond(leaf.get("math_cond")):
        if arg == "depends_on" or op in ("/", "^"):
            continue
        v = float(arg)
        if op in (">", ">="):
            if v > lo:
                lo, exclusive_low = v, op == ">"
            elif v == lo and op == ">":
                exclusive_low = True
        elif v < hi:
            hi, exclusive_high = v, op == "<"
        elif v == hi and op == "<":
            exclusive_high = True
    return lo, hi, exclusive_low, exclusive_high


def interval_text(bounds: tuple[float, float, bool, bool]) -> str:
    """``[1, 100]`` / ``(0, 0.1]``: validity bounds as an interval, exclusive ends in parentheses."""
    lo, hi, exclusive_low, exclusive_high = bounds
    return f"{'(' if exclusive_low else '['}{lo:g}, {hi:g}{')' if exclusive_high else ']'}"


def _respect_bounds(
    low: float, high: float, bounds: tuple[float, float, bool, bool], is_int: bool
) -> tuple[float, float]:
    """Keep a search range off excluded bounds (``> 0`` never yields 0); ints get integral ends."""
    lo, hi, exclusive_low, exclusive_high = bounds
    if is_int:
        low, high = math.ceil(low), math.floor(high)
        if exclusive_low and low <= lo:
            low = math.floor(lo) + 1
        if exclusive_high and high >= hi:
            high = math.ceil(hi) - 1
        return low, high
    width = high - low if math.isfinite(high - low) else 1.0
    if exclusive_low and low <= lo:
        low = lo + width * 1e-3
    if exclusive_high and high >= hi:
        high = hi - width * 1e-3
    return low, high


def _number_range(name: str, leaf: dict[str, Any], is_int: bool) -> tuple[float, float, bool, str]:
    """Search range for a numeric leaf: (low, high, log, source)."""
    default = leaf.get("default")
    bounds = validity_bounds(leaf)
    lo, hi, _, _ = bounds
    last = re.sub(r"\[\d+\]$", "", name.rsplit(".", 1)[-1])  # an element of a list leaf: its list's name
    d = float(default) if _finite(default) else None

    if not is_int and _is_rate(last):
        center = d if d and d > 0 else 1e-3
        low, high = float(f"{center / 10:.12g}"), float(f"{center * 10:.12g}")
        low = max(low, lo if lo > 0 else low)
        high = min(high, hi)
        low, high = _respect_bounds(low, high, bounds, is_int)
        return low, high, low > 0, f"derived: log scale, one decade around the default {center:g}"
    if not is_int and d is not None and _is_near_one(last, d, hi):
        gap = 1.0 - d
        low, high = round(max(lo, 1 - 5 * gap), 12), round(min(hi, 1 - gap / 5), 12)
        low, high = _respect_bounds(low, high, bounds, is_int)
        return low, high, False, f"derived: near-one factor around {d:g}"
    if not math.isfinite(hi) or not math.isfinite(lo):
        if d is None or d <= 0:
            base = max(lo, 0.0) if math.isfinite(lo) else 0.0
            low, high = base, (hi if math.isfinite(hi) else base + (10 if is_int else 1.0))
            low, high = _respect_bounds(low, high, bounds, is_int)
            return low, high, False, "derived: open bound, no positive default"
        factor = 4 if (not is_int or "batch" in last) else 2
        low = lo if math.isfinite(lo) and lo > d / factor else d / factor
        high = hi if math.isfinite(hi) else d * factor
        low, high = _respect_bounds(low, high, bounds, is_int)
        source = f"derived: open bound, [{low:g}, {high:g}] around the default {d:g}"
        return low, high, bool(low > 0 and high / low >= 8), source
    low, high = _respect_bounds(lo, hi, bounds, is_int)
    return low, high, False, "schema"


def resolve_leaf(leaf: dict[str, Any]) -> dict[str, Any]:
    """A leaf typed by ``anyOf`` (``[{type: number}, {type: "null"}]``) as its first non-null branch.

    The leaf's own keys (default, bounds, automl flags) win over the branch's.
    """
    if leaf.get("type") or not isinstance(leaf.get("anyOf"), list):
        return leaf
    branches = [b for b in leaf["anyOf"] if isinstance(b, dict) and str(b.get("type", "null")) != "null"]
    if not branches:
        return leaf
    return {**branches[0], **{k: v for k, v in leaf.items() if k != "anyOf"}}


def params_from_leaf(name: str, leaf: dict[str, Any]) -> list[Param] | str:
    """The parameters a schema leaf contributes (a list leaf may give several), or why it gives none."""
    leaf = resolve_leaf(leaf)
    if str(leaf.get("type", "")).lower() in LIST_TYPES:
        return list_params(name, leaf)
    built = param_from_leaf(name, leaf)
    return built if isinstance(built, str) else [built]


def param_from_leaf(name: str, leaf: dict[str, Any]) -> Param | str:
    """Build a Param from a scalar schema leaf, or return the reason it cannot be searched."""
    leaf = resolve_leaf(leaf)
    kind = str(leaf.get("type", "")).lower()
    default = leaf.get("default")
    enum = leaf.get("enum") or leaf.get("valid_options")
    weights = leaf.get("option_weights")
    weights_t = tuple(float(w) for w in weights) if weights and enum and len(weights) == len(enum) else None
    conds = parse_math_cond(leaf.get("math_cond"))
    depends_on = leaf.get("depends_on")
    relation: Literal["gt", "ge", "lt", "le"] | None = None
    if depends_on:
        op = next((op for op, arg in conds if arg == "depends_on"), "<=")
        relation = _RELATIONS.get(op, "le")

    if kind in _BOOL_TYPES:
        return Param(name, ParamType.BOOL, default, choices=(True, False))
    if kind == "categorical" or (kind in ("string", "str", "") and enum):
        if not enum or len(enum) < 2:
            return "categorical with fewer than two options"
        return Param(
            name,
            ParamType.CATEGORICAL,
            default,
            choices=tuple(enum),
            weights=weights_t,
            depends_on=depends_on,
            relation=relation,
        )
    if kind == "ordered_int" or (kind in _INT_TYPES and enum):
        values = tuple(sorted(int(v) for v in enum or ()))
        if len(values) < 2:
            return "ordered_int with fewer than two options"
        if weights_t:
            weights_t = tuple(w for _, w in sorted(zip(enum, weights_t, strict=True)))
        return Param(
            name,
            ParamType.ORDERED,
            default,
            low=values[0],
            high=values[-1],
            choices=values,
            weights=weights_t,
            depends_on=depends_on,
            relation=relation,
        )
    if kind in _INT_TYPES or kind in _FLOAT_TYPES:
        is_int = kind in _INT_TYPES
        low, high, log, source = _number_range(name, leaf, is_int)
        power = next((int(float(a)) for op, a in conds if op == "^"), None)
        divisor = next((int(float(a)) for op, a in conds if op == "/"), None)
        if is_int and power and power > 1:
            k = max(0, math.ceil(math.log(max(low, 1), power) - 1e-9))
            values = []
            while power**k <= high:
                values.append(power**k)
                k += 1
            if len(values) < 2:
                return f"fewer than two powers of {power} in [{low:g}, {high:g}]"
            return Param(
                name,
                ParamType.ORDERED,
                default,
                low=values[0],
                high=values[-1],
                choices=tuple(values),
                depends_on=depends_on,
                relation=relation,
                source=source,
            )
        step = None
        if is_int and divisor and divisor > 1:
            step = divisor
            low = math.ceil(max(low, divisor) / divisor) * divisor
            high = math.floor(high / divisor) * divisor
            log = False
        if low >= high:
            return f"empty range [{low:g}, {high:g}]"
        return Param(
            name,
            ParamType.INT if is_int else ParamType.FLOAT,
            default,
            low=low,
            high=high,
            log=log,
            step=step,
            depends_on=depends_on,
            relation=relation,
            source=source,
        )
    if kind in LIST_TYPES:
        return "list-valued: searched element by element (params_from_leaf), not as one scalar"
    return f"type '{kind or 'missing'}' is not searchable"


#: TAO's list-valued leaf types (the published runner's names) and plain JSON Schema's ``array``.
LIST_TYPES = frozenset(
    {"list", "array", "list_1_backbone", "list_1_normal", "list_2", "list_3", "subset_list", "optional_list"}
)
#: Above this many options a subset list is searched over its neighbourhood, not over every subset.
_MAX_SUBSET_OPTIONS = 4
_MAX_RANGE_CHOICES = 64


def _numbers(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(_finite(v) for v in values)


def _dedupe(choices: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for c in choices:
        seen.setdefault(json.dumps(c, sort_keys=True), c)
    return tuple(seen.values())


def _subset_choices(options: list[Any], default: Any, allow_empty: bool) -> tuple[Any, ...]:
    """Subsets of ``options`` (order kept): all of them for a few options, else the default's neighbours."""
    if len(options) <= _MAX_SUBSET_OPTIONS:
        subsets = [
            [o for i, o in enumerate(options) if mask >> i & 1]
            for mask in range(0 if allow_empty else 1, 2 ** len(options))
        ]
        return _dedupe(subsets)
    base = [o for o in options if isinstance(default, list) and o in default] or list(options[:1])
    near = [[o for o in options if o in base or o == extra] for extra in options if extra not in base]
    near += [[o for o in base if o != drop] for drop in base if len(base) > 1]
    return _dedupe([base, *near, list(options), *([[]] if allow_empty else [])])


def list_params(name: str, leaf: dict[str, Any]) -> list[Param] | str:
    """Search a list-valued leaf the way its TAO type means it.

    * ``optional_list``: absent (None) or all of its options;
    * ``subset_list`` (and a ``list`` with an ``enum``): a subset of the options, as one categorical;
    * ``list_1_backbone``/``list_1_normal``: a run of consecutive integers ``[a..b]`` inside the bounds;
    * numeric lists (``list``, ``list_2``, ``list_3``): each element its own parameter ``name[i]``,
      bounded by per-element (list-valued) or shared ``minimum``/``maximum``, else derived around its
      default. Ascending defaults (milestones such as ``lr_steps``) stay ascending and equal ones
      (square image sizes) stay equal, through :meth:`SearchSpace.repair`.
    """
    kind = str(leaf.get("type", "")).lower()
    default = leaf.get("default")
    options = leaf.get("enum") or leaf.get("valid_options")
    if kind == "optional_list":
        if not isinstance(options, list) or not options:
            return "optional_list without options (enum)"
        return [Param(name, ParamType.CATEGORICAL, default, choices=_dedupe([None, list(options)]))]
    if isinstance(options, list) and options and not _numbers(default if isinstance(default, list) else None):
        choices = _subset_choices(list(options), default, allow_empty=kind == "subset_list" or default == [])
        if len(choices) < 2:
            return "subset list with fewer than two subsets"
        return [Param(name, ParamType.CATEGORICAL, default, choices=choices)]
    lo, hi = leaf.get("minimum"), leaf.get("maximum")
    if kind in ("list_1_backbone", "list_1_normal"):
        if not (_finite(lo) and _finite(hi) and int(lo) < int(hi)):
            return f"{kind} needs finite integer minimum and maximum (or custom_param_ranges valid_options)"
        lo_i, hi_i = int(lo), int(hi)
        runs = [list(range(a, b + 1)) for a in range(lo_i, hi_i + 1) for b in range(a, hi_i + 1)]
        if len(runs) > _MAX_RANGE_CHOICES:
            runs = [list(range(lo_i, b + 1)) for b in range(lo_i, hi_i + 1)]
        return [Param(name, ParamType.CATEGORICAL, default, choices=_dedupe([*runs]))]
    if not _numbers(default):
        return f"{kind} of non-numeric values without options: give valid_options in custom_param_ranges"
    params: list[Param] = []
    for i in range(len(default)):
        built = param_from_leaf(f"{name}[{i}]", _element_leaf(leaf, i))
        if isinstance(built, str):
            return f"element {i}: {built}"
        params.append(built)
    return params


def _element_leaf(leaf: dict[str, Any], i: int) -> dict[str, Any]:
    """Element ``i`` of a numeric list leaf as a scalar leaf: its default and its (per-element) bounds."""
    default, lo, hi = leaf["default"], leaf.get("minimum"), leaf.get("maximum")
    is_int = all(isinstance(v, int) for v in default)
    return {
        "type": "int" if is_int else "float",
        "default": default[i],
        "minimum": lo[i] if isinstance(lo, list) and i < len(lo) else lo,
        "maximum": hi[i] if isinstance(hi, list) and i < len(hi) else hi,
        "math_cond": leaf.get("math_cond"),
    }


def _same_option(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from 0/1 (``True in [1, 2]`` is true in Python)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _check_weights(weights: Any, n: int, field_name: str) -> tuple[float, ...]:
    if (
        not isinstance(weights, list | tuple)
        or len(weights) != n
        or not all(_finite(w) and w >= 0 for w in weights)
        or sum(weights) <= 0
    ):
        raise ConfigurationError(
            f"option_weights must be a list of {n} non-negative numbers (one per option), "
            f"not all zero; got {weights!r}",
            field=field_name,
        )
    return tuple(float(w) for w in weights)


def _apply_custom(p: Param | None, name: str, leaf: dict[str, Any], custom: dict[str, Any]) -> Param:
    """Narrow or replace a parameter with a user range, refusing anything outside the schema."""
    field_name = f"custom_param_ranges.{name}"
    if not isinstance(custom, dict):
        raise ConfigurationError("must be a mapping with " + ", ".join(_CUSTOM_KEYS), field=field_name)
    unknown = sorted(set(custom) - set(_CUSTOM_KEYS))
    if unknown:
        raise ConfigurationError(
            f"unknown key(s) {unknown}",
            field=field_name,
            hint=f"allowed keys: {', '.join(_CUSTOM_KEYS)}; {_closest(unknown[0], _CUSTOM_KEYS)}",
        )
    kind = str(leaf.get("type", "")).lower()
    s_min, s_max, excl_min, excl_max = validity_bounds(leaf)
    allowed = interval_text((s_min, s_max, excl_min, excl_max))

    def in_schema(v: float) -> bool:
        return (s_min < v if excl_min else s_min <= v) and (v < s_max if excl_max else v <= s_max)

    options = custom.get("valid_options")
    weights = custom.get("option_weights")
    schema_enum = leaf.get("enum")

    if options is not None:
        if not isinstance(options, list) or len(options) < 1:
            raise ConfigurationError("valid_options must be a non-empty list", field=field_name)
        if any(_same_option(a, b) for i, a in enumerate(options) for b in options[i + 1 :]):
            raise ConfigurationError(f"valid_options {options} contains duplicates", field=field_name)
        if kind in LIST_TYPES:
            bad = [o for o in options if not (o is None or isinstance(o, list))]
            if schema_enum and not bad:
                bad = [o for o in options if o and any(not any(_same_option(x, e) for e in schema_enum) for x in o)]
            if bad:
                raise ConfigurationError(
                    f"options {bad} are not lists of the schema's values",
                    field=field_name,
                    hint=f"each option is a whole list value{f' of {schema_enum}' if schema_enum else ''}",
                )
        elif schema_enum:
            bad = [o for o in options if not any(_same_option(o, e) for e in schema_enum)]
            if bad:
                raise ConfigurationError(
                    f"options {bad} are not allowed by the schema",
                    field=field_name,
                    hint=f"allowed options: {schema_enum}",
                )
        elif kind in _BOOL_TYPES:
            bad = [o for o in options if not isinstance(o, bool)]
            if bad:
                raise ConfigurationError(f"options {bad} are not booleans", field=field_name)
        elif kind in _INT_TYPES or kind in _FLOAT_TYPES:
            bad = [o for o in options if not _finite(o) or not in_schema(o) or (kind in _INT_TYPES and o != int(o))]
            if bad:
                integers = ", integers" if kind in _INT_TYPES else ""
                raise ConfigurationError(
                    f"options {bad} are outside the schema range",
                    field=field_name,
                    hint=f"allowed range: {allowed}{integers}",
                )
        w = _check_weights(weights, len(options), field_name) if weights is not None else None
        is_num = kind in _INT_TYPES | _FLOAT_TYPES or kind == "ordered_int"
        integral = all(isinstance(o, int) and not isinstance(o, bool) for o in options)
        ptype = ParamType.ORDERED if is_num and integral else ParamType.CATEGORICAL
        if kind in _BOOL_TYPES:
            ptype = ParamType.BOOL
        if ptype is ParamType.ORDERED:
            order = sorted(range(len(options)), key=lambda i: options[i])
            choices: tuple[Any, ...] = tuple(options[i] for i in order)
            w = tuple(w[i] for i in order) if w else None
        else:
            choices = tuple(options)
        base = p or Param(name, ptype, leaf.get("default"))
        return replace(
            base, type=ptype, choices=choices, weights=w, low=None, high=None, log=False, step=None, source="custom"
        )
    if weights is not None:
        if p is None or not p.choices:
            raise ConfigurationError(
                "option_weights needs valid_options (or schema options) of the same length", field=field_name
            )
        w = _check_weights(weights, len(p.choices), field_name)
        if p.type is ParamType.ORDERED and schema_enum and len(schema_enum) == len(w):
            # weights follow the schema's enum order; the parameter's choices are sorted
            by_value = {int(e): x for e, x in zip(schema_enum, w, strict=True)}
            w = tuple(by_value[c] for c in p.choices)
        return replace(p, weights=w, source="custom")

    vmin, vmax = custom.get("valid_min"), custom.get("valid_max")
    if kind not in _INT_TYPES | _FLOAT_TYPES and kind != "ordered_int":
        raise ConfigurationError(
            f"valid_min/valid_max need a numeric parameter, this one is '{kind}'",
            field=field_name,
            hint="use valid_options",
        )
    for key, v in (("valid_min", vmin), ("valid_max", vmax)):
        if v is not None and not _finite(v):
            raise ConfigurationError(f"{key} must be a finite number, got {v!r}", field=field_name)
        if v is not None and not in_schema(v):
            raise ConfigurationError(
                f"{key}={v:g} is outside the schema range", field=field_name, hint=f"allowed range: {allowed}"
            )
    if vmin is not None and vmax is not None and vmin >= vmax:
        raise ConfigurationError(f"valid_min ({vmin:g}) must be below valid_max ({vmax:g})", field=field_name)
    if p is None:
        built = param_from_leaf(
            name,
            {
                **leaf,
                "minimum": vmin if vmin is not None else leaf.get("minimum"),
                "maximum": vmax if vmax is not None else leaf.get("maximum"),
            },
        )
        if isinstance(built, str):
            raise ConfigurationError(built, field=field_name)
        p = built
    if p.choices:
        low = vmin if vmin is not None else -math.inf
        high = vmax if vmax is not None else math.inf
        keep = [i for i, c in enumerate(p.choices) if low <= c <= high]
        if not keep:
            raise ConfigurationError(
                f"no allowed value of the schema lies in [{low:g}, {high:g}]",
                field=field_name,
                hint=f"allowed values: {list(p.choices)}",
            )
        choices = tuple(p.choices[i] for i in keep)
        w = tuple(p.weights[i] for i in keep) if p.weights else None
        return replace(p, choices=choices, low=min(choices), high=max(choices), weights=w, source="custom")
    low = float(vmin) if vmin is not None else float(p.low)
    high = float(vmax) if vmax is not None else float(p.high)
    if low >= high and vmax is None:
        # the user's minimum lies above the derived (not schema) maximum: search up from it instead
        high = min(s_max, low * 10 if low > 0 else low + (p.high - p.low))
        if excl_max and high >= s_max:
            high = s_max - (high - low) * 1e-3
    elif low >= high and vmin is None:
        low = max(s_min, high / 10 if high > 0 else high - (p.high - p.low))
        if excl_min and low <= s_min:
            low = s_min + (high - s_min) * 1e-3
    if p.type is ParamType.INT:
        low, high = math.ceil(low), math.floor(high)
        if p.step:
            low, high = math.ceil(low / p.step) * p.step, math.floor(high / p.step) * p.step
    if low >= high:
        given = {k: v for k, v in (("valid_min", vmin), ("valid_max", vmax)) if v is not None}
        raise ConfigurationError(
            f"{given} leaves an empty range [{low:g}, {high:g}]",
            field=field_name,
            hint=f"allowed range: {allowed}" + (f", multiples of {p.step}" if p.step else ""),
        )
    log = p.log and low > 0
    return replace(p, low=low, high=high, log=log, source="custom")


def build_search_space(
    schema: dict[str, Any],
    hyperparameters: list[str] | None = None,
    custom_ranges: dict[str, dict[str, Any]] | None = None,
    skill_ranges: dict[str, dict[str, Any]] | None = None,
) -> SearchSpace:
    """Search space of a train schema.

    Args:
        schema: parsed TAO train schema.
        hyperparameters: explicit dotted names (``automl_hyperparameters``); default is the schema's
            ``automl_default_parameters`` minus disabled and system leaves.
        custom_ranges: ``{name: {valid_min, valid_max, valid_options, option_weights}}``; must stay
            inside the schema. A name outside the default list is added to the space.
        skill_ranges: the model skill's own recommended ranges (``automl.search_ranges``, same
            keys), applied to the parameters searched that the user gave no range for; they narrow
            the derived ranges to what the skill's HPO notes found useful but never add a parameter.
    """
    custom_ranges = dict(custom_ranges or {})
    leaves = dict(iter_leaves(schema))
    excluded: dict[str, str] = {}
    if hyperparameters is not None:
        if not isinstance(hyperparameters, list) or not all(isinstance(h, str) for h in hyperparameters):
            raise ConfigurationError("must be a list of dotted parameter names", field="automl_hyperparameters")
        names = list(dict.fromkeys(hyperparameters))
        for n in names:
            if n not in leaves:
                raise ConfigurationError(
                    f"'{n}' is not a leaf of the train schema", field="automl_hyperparameters", hint=_closest(n, leaves)
                )
        explicit = set(names)
    else:
        disabled = set(schema.get("automl_disabled_parameters") or [])
        names = []
        defaults = schema.get("automl_default_parameters")
        if not isinstance(defaults, list):
            # No list (hand-written and plain JSON schemas): the leaves flagged automl_enabled, as the
            # published runner searches them.
            defaults = [n for n, leaf in leaves.items() if parse_flag(leaf.get("automl_enabled")) is True]
        for n in defaults:
            if n not in leaves:
                excluded[n] = "listed in automl_default_parameters but not a leaf of the schema"
            elif n in disabled:
                excluded[n] = "listed in automl_disabled_parameters"
            elif _is_system(n):
                excluded[n] = "changes speed or bookkeeping, not the model (name it explicitly to search it)"
            else:
                names.append(n)
        explicit = set()
    for n in custom_ranges:
        if n not in leaves:
            raise ConfigurationError(
                f"'{n}' is not a leaf of the train schema", field=f"custom_param_ranges.{n}", hint=_closest(n, leaves)
            )
        if n not in names:
            names.append(n)
            explicit.add(n)

    params: dict[str, Param] = {}
    for n in names:
        built = params_from_leaf(n, leaves[n])
        given = custom_ranges.get(n)
        source = "custom"
        if given is None and n in (skill_ranges or {}):
            given, source = skill_ranges[n], "model skill (automl.search_ranges)"  # type: ignore[index]
        if given is not None:
            one = built[0] if isinstance(built, list) and len(built) == 1 else None
            try:
                built = [replace(_apply_custom(one, n, resolve_leaf(leaves[n]), given), source=source)]
            except ConfigurationError as exc:
                if source == "custom":
                    raise
                raise SkillError(
                    f"the model skill's automl.search_ranges.{n} does not fit its schema: {exc.message}",
                    field=f"automl.search_ranges.{n}",
                    hint="fix the range in the skill's references/skill_info.yaml, or give custom_param_ranges",
                ) from None
        if isinstance(built, str):
            if n in explicit:
                raise ConfigurationError(f"cannot be searched: {built}", field=f"automl_hyperparameters.{n}")
            excluded[n] = built
            continue
        params.update((p.name, p) for p in built)
    if not params:
        reasons = "; ".join(f"{k}: {v}" for k, v in excluded.items()) or (
            "no leaf is named in automl_default_parameters nor flagged automl_enabled: true"
        )
        raise ConfigurationError(
            f"the search space is empty ({reasons})",
            field="automl_hyperparameters",
            hint="name searchable leaves in automl_hyperparameters, or give custom_param_ranges "
            "{param: {valid_min, valid_max} or {valid_options}}",
        )
    return SearchSpace(_order_by_dependency(params), excluded)


def _order_by_dependency(params: dict[str, Param]) -> list[Param]:
    """Parents before children; a dependency on a parameter outside the space is dropped."""
    ordered: list[Param] = []
    seen: set[str] = set()

    def visit(p: Param, stack: tuple[str, ...]) -> None:
        if p.name in seen:
            return
        if p.depends_on in stack:
            raise SkillError(f"depends_on cycle: {' -> '.join((*stack, p.name))}", field=p.name)
        if p.depends_on in params:
            visit(params[p.depends_on], (*stack, p.name))
        seen.add(p.name)
        if p.depends_on not in params:
            p = replace(p, depends_on=None, relation=None)
        else:
            p = _clip_to_parent(p, params[p.depends_on])
        params[p.name] = p
        ordered.append(p)

    for p in params.values():
        visit(p, ())
    return ordered


def _clip_to_parent(p: Param, parent: Param) -> Param:
    """A child bounded above by its parent cannot usefully exceed the parent's own maximum.

    Without this, RT-DETR's ``num_select`` (up to 1000) under ``num_queries`` (up to 600) is clamped
    to its parent in most samples, which wastes the search on one edge of the space.
    """
    if p.relation not in ("le", "lt") or p.choices or parent.high is None or p.high is None:
        return p
    high = parent.high if p.relation == "le" else parent.high - (1 if p.type is ParamType.INT else 0)
    if p.type is ParamType.INT:
        step = p.step or 1
        high = int(p.low) + ((int(high) - int(p.low)) // step) * step
    if high <= p.low or high >= p.high:
        return p
    return replace(p, high=high, source=f"{p.source}; max clipped to the parent's maximum {parent.high:g}")
