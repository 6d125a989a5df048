"""Dataset references of one action: which spec keys name data, where it lives, and what is missing.

A model skill declares its data in two published places: ``actions.<action>.inputs`` (dotted spec
keys, with ``[i]`` list indexes, a ``type`` of file/folder and ``optional``) and
``data_sources.<action>`` (the same keys mapped to a dataset role such as ``train_datasets`` and a
path inside it, ``runtime: extracted_folder`` for archives). The values come from the spec the jobs
will run: the template, the dataset URIs and the user's ``spec_overrides``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tao_automl.data.locations import Location, parse_location
from tao_automl.errors import ConfigurationError
from tao_automl.skill import ModelSkill
from tao_automl.spec import get_dotted

#: Values a template uses for "not set": empty, null and OmegaConf's mandatory marker.
UNSET_VALUES = (None, "", "???")
#: Dataset roles that hold training data (``data_sources`` ``source:`` names).
TRAIN_ROLES = frozenset({"train_datasets", "train_dataset", "train"})
#: Dataset roles and the runner argument that fills them.
ROLE_ARGUMENTS = {"train_datasets": "train_dataset_uri", "eval_dataset": "eval_dataset_uri"}


class DatasetRef(BaseModel):
    """One spec key that names data. ``location`` is None while the spec leaves it unset."""

    spec_key: str
    kind: str = "file"  # file | folder
    role: str | None = None  # data_sources source: train_datasets, eval_dataset, ...
    path_in_source: str | None = None
    runtime: str | None = None
    optional: bool = False
    location: str | None = None

    @property
    def parsed(self) -> Location | None:
        return parse_location(self.location) if self.location else None

    @property
    def is_train(self) -> bool:
        if self.role is not None:
            return self.role in TRAIN_ROLES
        return "train" in self.spec_key.split(".", 1)[-1]


def _value(spec: dict[str, Any], key: str) -> str | None:
    value = get_dotted(spec, key)
    if isinstance(value, list):  # a list-valued key (``list: true`` sources): the first entry stands for it
        value = value[0] if value else None
    if value in UNSET_VALUES or not isinstance(value, str):
        return None
    return value


def dataset_references(skill: ModelSkill, action: str, spec: dict[str, Any]) -> list[DatasetRef]:
    """Every input of ``action`` that is data (not a checkpoint the runner fills), in declaration order.

    An input counts as data when ``data_sources`` maps it, or when it is a required input that no
    ``spec_params`` role (checkpoint, output dir) fills.
    """
    sources = skill.info.data_sources.get(action) or {}
    roles = skill.info.spec_params.get(action, {})
    inputs = skill.info.actions[action].inputs if action in skill.info.actions else {}
    keys = list(dict.fromkeys([*inputs, *sources]))
    refs: list[DatasetRef] = []
    for key in keys:
        declared = inputs.get(key) if isinstance(inputs.get(key), dict) else {}
        src = sources.get(key) if isinstance(sources.get(key), dict) else None
        optional = bool(declared.get("optional", False))
        if src is None and (optional or key in roles):
            continue  # a checkpoint or another runner-filled input, not data
        refs.append(
            DatasetRef(
                spec_key=key,
                kind=str(declared.get("type") or ("folder" if (src or {}).get("runtime") else "file")),
                role=(src or {}).get("source"),
                path_in_source=(src or {}).get("path"),
                runtime=(src or {}).get("runtime"),
                optional=optional,
                location=_value(spec, key),
            )
        )
    return refs


def require_inputs(skill: ModelSkill, action: str, spec: dict[str, Any]) -> list[DatasetRef]:
    """The action's data references; raises when a required one is unset in ``spec``.

    Raises:
        ConfigurationError: naming the first missing spec key and how to fill it.
    """
    refs = dataset_references(skill, action, spec)
    missing = [r for r in refs if r.location is None and not r.optional]
    if missing:
        first = missing[0]
        via = ROLE_ARGUMENTS.get(first.role or "")
        how = f"pass {via} (its {first.path_in_source or 'root'} fills it) or " if via else ""
        others = f"; also unset: {', '.join(r.spec_key for r in missing[1:])}" if len(missing) > 1 else ""
        raise ConfigurationError(
            f"required {first.kind} input is not set in the spec{others}",
            field=first.spec_key,
            hint=f"{how}set spec_overrides={{'{first.spec_key}': <local path or s3:// URI>}}",
        )
    return refs
