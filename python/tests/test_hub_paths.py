"""Upstream's module paths (kernels.hf_hub, kernels.importer, kernels.install, kernels._versions, kernels.status)."""

from __future__ import annotations

import logging
import platform
from dataclasses import fields

import pytest
import torch

from kernels import LoadedKernel, RepoInfo, get_loaded_kernels, install_kernel
from kernels.hf_hub import _get_hf_api, _platform
from kernels.importer import _loaded_kernels
from kernels.install import install_kernel as install_kernel_at_upstream_path


def test_user_agent_names_caller_then_environment() -> None:
    agent = _get_hf_api(user_agent={"app": "demo", "rev": "2"}).user_agent
    parts = agent.split("; ")
    assert parts[:2] == ["app/demo", "rev/2"]
    python = ".".join(platform.python_version_tuple()[:2])
    for expected in (f"python/{python}", "backend/cpu", f"platform/{_platform()}", "file_type/kernel",
                     f"torch/{torch.__version__}"):
        assert expected in parts
    assert any(p.startswith("kernels/") for p in parts)
    for empty in (None, "", {}):
        assert all(p.strip() for p in _get_hf_api(user_agent=empty).user_agent.split(";"))


def test_user_agent_is_empty_without_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    assert _get_hf_api(user_agent="secret/1").user_agent == ""


def test_platform_is_cpu_dash_os() -> None:
    cpu, system = _platform().split("-")
    assert system == platform.system().lower() and cpu


def test_loaded_kernel_shape_and_registry_is_shared() -> None:
    assert [f.name for f in fields(LoadedKernel)] == ["metadata", "module", "repo_info"]
    assert [f.name for f in fields(RepoInfo)] == ["repo_id", "revision"]
    assert len(get_loaded_kernels()) == len(_loaded_kernels)
    assert install_kernel is install_kernel_at_upstream_path


def test_versions_offline_and_the_newer_version_log(monkeypatch: pytest.MonkeyPatch, tmp_path, caplog) -> None:
    from kernels._versions import resolve_version_spec_as_ref

    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="offline mode"):
        resolve_version_spec_as_ref("org/none", 1, local_files_only=True)
    refs = tmp_path / "kernels--org--cached" / "refs"
    refs.mkdir(parents=True)
    for number in (1, 2, 10):
        (refs / f"v{number}").write_text(f"{number:040d}")
    with caplog.at_level(logging.WARNING, logger="kernels._versions"):
        assert resolve_version_spec_as_ref("org/cached", 2, local_files_only=True).target_commit == f"{2:040d}"
    assert "version 10 is available" in caplog.text
    with pytest.raises(ValueError, match="^Version 3 not found, available versions: 1, 2, 10$"):
        resolve_version_spec_as_ref("org/cached", 3, local_files_only=True)


def test_get_kernel_dep_outside_loading_is_refused() -> None:
    from kernels import get_kernel_dep

    with pytest.raises(RuntimeError, match="only works during kernel loading"):
        get_kernel_dep("org/dep")
