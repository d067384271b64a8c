"""Fixtures for the cross-package tests: build example kernels once per session."""

from __future__ import annotations

import os

import pytest
from e2e_support import BuiltKernel, build_relu


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment with a session-private kernel-builder cache."""
    env = dict(os.environ)
    env["KERNEL_BUILDER_CACHE"] = str(tmp_path_factory.mktemp("kernel-builder-cache"))
    return env


@pytest.fixture(scope="session")
def relu_build(tmp_path_factory: pytest.TempPathFactory, build_cache: dict[str, str]) -> BuiltKernel:
    """examples/relu built once for this environment (CPU Torch)."""
    return build_relu(tmp_path_factory.mktemp("relu-first"), build_cache, "first")


@pytest.fixture(scope="session")
def relu_build_other(tmp_path_factory: pytest.TempPathFactory, build_cache: dict[str, str]) -> BuiltKernel:
    """A second build of examples/relu with another unique id."""
    return build_relu(tmp_path_factory.mktemp("relu-second"), build_cache, "second")
