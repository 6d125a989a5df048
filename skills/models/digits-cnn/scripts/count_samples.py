"""Print the number of training samples a spec gives: ``python count_samples.py -e spec.yaml``.

The AutoML runner calls this before a sweep (``automl.train_sample_count_command``) to cap batch
sizes that could not train; it applies the exact split ``train.py`` uses, without importing torch.
Prints one JSON object: ``train_sample_count``, ``counted`` and ``data_files``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from digits_data import SpecError, load_digits_arrays, load_spec, split_indices, split_params


def bundled_file() -> str | None:
    """The CSV scikit-learn bundles, which ``load_digits_arrays`` reads."""
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "datasets" / "data" / "digits.csv.gz" if locations else None
    return str(path) if path is not None and path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-e", "--experiment_spec", required=True)
    args = parser.parse_args(argv)
    try:
        params = split_params(load_spec(args.experiment_spec))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    images, labels = load_digits_arrays()
    train = split_indices(labels, **params)["train"]
    source = bundled_file()
    counted = (
        f"train split of the {len(images)} bundled digits (split_seed {params['split_seed']}, val_fraction "
        f"{params['val_fraction']}, test_fraction {params['test_fraction']}, train_fraction {params['train_fraction']})"
    )
    print(json.dumps({"train_sample_count": len(train), "counted": counted, "data_files": [source] if source else []}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
