"""Headless Debian Chromium driven by Playwright, for tests that look at pages the way a person would.

The browser is Debian's (``scripts/ci/chromium-local.sh install`` puts it there when missing);
Playwright only drives it through ``executable_path`` and never downloads a browser of its own.
Every page gets a fresh profile, and the flags keep Chromium off the (closed) network.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_SCRIPT = ROOT / "scripts" / "ci" / "chromium-local.sh"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium, installed on first use."""
    subprocess.run(["bash", str(CHROMIUM_SCRIPT), "install"], check=True, timeout=900)
    path = subprocess.run(["bash", str(CHROMIUM_SCRIPT), "path"], check=True, capture_output=True, text=True)
    return Path(path.stdout.strip())


@pytest.fixture
def browser_context(chromium_path: Path, tmp_path: Path) -> Iterator[object]:
    """A Playwright BrowserContext of a headless Chromium with a fresh ``--user-data-dir``; closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
