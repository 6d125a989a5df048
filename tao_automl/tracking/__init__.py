"""Experiment tracking: trackers are runner listeners chosen by ``automl_settings.automl_tracking``.

Adding a tracker is one module here with a ``Tracker`` subclass, named in :data:`TRACKERS`.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from tao_automl.settings import AutoMLSettings
from tao_automl.tracking.base import TERMINAL_EVENTS, Tracker

__all__ = ["TERMINAL_EVENTS", "TRACKERS", "Tracker", "start_trackers"]

logger = logging.getLogger(__name__)

#: Tracker name -> "module:class"; imported only when chosen, so a tracker's client stays optional.
TRACKERS = {
    "wandb": "tao_automl.tracking.wandb_tracker:WandbTracker",
}


def start_trackers(settings: AutoMLSettings, run_dir: Path) -> list[Tracker]:
    """The trackers the settings ask for, started; one that cannot start is logged and left out."""
    trackers: list[Tracker] = []
    for name in dict.fromkeys(settings.automl_tracking):
        module, cls = TRACKERS[name].split(":")
        try:
            trackers.append(getattr(importlib.import_module(module), cls)(settings, run_dir))
        except ImportError as exc:
            logger.warning("%s tracking is off: %s (pip install 'tao-automl[tracking]')", name, exc)
    return trackers
