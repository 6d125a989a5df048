"""The tao-automl MCP server: thin typed adapters over ``tao_automl`` with enforced launch gates.

``build_server`` and ``main`` are loaded on first use, so ``python -m server.app`` runs its module once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_server", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from server import app

        return getattr(app, name)
    raise AttributeError(f"module 'server' has no attribute {name!r}")
