"""Contract-suite cases for the platforms that need no service: local processes and the SDK adapter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import PlatformCase, SubprocessSdk

from tao_automl.platforms.local import LocalPlatform
from tao_automl.platforms.sdk_adapter import SdkPlatform

PLATFORM_CASES = ("local", "sdk")


@pytest.fixture
def platform_case_local(tmp_path: Path) -> PlatformCase:
    return PlatformCase(LocalPlatform(state_root=tmp_path / "state", cancel_grace_seconds=2.0), [sys.executable])


@pytest.fixture
def platform_case_sdk(tmp_path: Path) -> PlatformCase:
    return PlatformCase(SdkPlatform(SubprocessSdk(tmp_path)), [sys.executable])
