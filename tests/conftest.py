"""Fixtures for the cross-package tests: build example kernels once per session."""

from __future__ import annotations

import os

import pytest
from e2e_support import BuiltKernel, build_example, build_relu


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


# --- The test Hub (tests/hub_server) -------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

#: Organizations the test Hub knows; only the first two carry the trusted-kernel-publisher flag.
HUB_ORGS = {
    "kernels-community": {"trusted": True},
    "kernels-test": {"trusted": True},
    "untrusted-org": {"trusted": False},
}


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory):
    """A Hub-compatible HTTP server on 127.0.0.1, one per session."""
    from hub_server import HubServer

    with HubServer(tmp_path_factory.mktemp("hub"), orgs=HUB_ORGS) as server:
        yield server


def make_hub_env(server, home: "os.PathLike[str]") -> dict[str, str]:
    """An environment whose huggingface_hub talks to ``server`` with a private HF_HOME."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGING_FACE_"))
        and key not in ("KERNELS_CACHE", "LOCAL_KERNELS", "DISABLE_TELEMETRY", "DO_NOT_TRACK", "TRANSFORMERS_OFFLINE")
    }
    env.update(
        HF_ENDPOINT=server.url,
        HF_HOME=str(home),
        HF_TOKEN="hf_test_token",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    return env


@pytest.fixture
def hub_env(hub_server, tmp_path) -> dict[str, str]:
    """Environment for subprocesses: HF_ENDPOINT at the test Hub, HF_HOME in a fresh temporary directory."""
    return make_hub_env(hub_server, tmp_path / "hf-home")


@pytest.fixture(scope="session")
def hub_session_env(hub_server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Like ``hub_env``, shared by the session fixtures that publish kernels."""
    return make_hub_env(hub_server, tmp_path_factory.mktemp("hf-home-session"))


@dataclass(frozen=True)
class PublishedKernel:
    repo_id: str
    version: int
    commit: str
    variant: str
    kernel_dir: Path
    upload_output: str
    foreign_variants: tuple[str, ...] = ()


def foreign_variants(variant: str) -> tuple[str, ...]:
    """Variants for other environments than ``variant``'s: an older CUDA build, another CPU, and universal."""
    import re

    arch = re.search(r"-(x86_64|aarch64)-", variant)
    this_arch = arch.group(1) if arch else "x86_64"
    other_arch = "aarch64" if this_arch == "x86_64" else "x86_64"
    return (
        f"torch211-cxx11-cu126-{this_arch}-linux",
        variant.replace(f"-{this_arch}-", f"-{other_arch}-"),
        "torch-universal",
    )


@pytest.fixture(scope="session")
def published_relu(hub_server, hub_session_env: dict[str, str], relu_build: BuiltKernel,
                   tmp_path_factory: pytest.TempPathFactory) -> PublishedKernel:
    """examples/relu uploaded with ``kernel-builder upload`` as kernels-community/relu v1.

    Afterwards v1 also gets variants for other environments (as if built on
    other machines), so loaders must pick and download only the right one.
    """
    import shutil

    from e2e_support import run_kernel_builder
    from hub_server.helpers import push, variant_files

    kernel_dir = tmp_path_factory.mktemp("relu-published") / "relu"
    shutil.copytree(relu_build.kernel_dir, kernel_dir)
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", "kernels-community/relu",
                                env=hub_session_env)
    foreign = foreign_variants(relu_build.variant_dir.name)
    files: dict[str, bytes] = {}
    for variant in foreign:
        backend = "cuda" if "-cu" in variant else "cpu"
        files.update(variant_files(variant, name="relu", backend=backend,
                                   init=f"VARIANT = {variant!r}\n"))
    commit = push(hub_server, "kernels-community/relu", files, branch="v1", message="Variants built elsewhere")
    return PublishedKernel("kernels-community/relu", 1, commit, relu_build.variant_dir.name, kernel_dir,
                           result.stdout + result.stderr, foreign)


@pytest.fixture(scope="session")
def published_relu_v2(hub_server, hub_session_env: dict[str, str], published_relu: PublishedKernel,
                      relu_build_other: BuiltKernel, tmp_path_factory: pytest.TempPathFactory) -> PublishedKernel:
    """The second relu build (ops ``_relu_cpu_second``) published as version 2 of kernels-community/relu."""
    import json
    import shutil

    from e2e_support import run_kernel_builder

    kernel_dir = tmp_path_factory.mktemp("relu-v2") / "relu"
    shutil.copytree(relu_build_other.kernel_dir, kernel_dir)
    toml = kernel_dir / "build.toml"
    toml.write_text(toml.read_text().replace("version = 1", "version = 2", 1))
    metadata_file = kernel_dir / "build" / relu_build_other.variant_dir.name / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["version"] = 2  # What a build of the edited build.toml writes.
    metadata_file.write_text(json.dumps(metadata, indent=2) + "\n")
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", "kernels-community/relu",
                                "--output-json", env=hub_session_env)
    commit = json.loads(result.stdout)["commits"][0]["commit"]
    return PublishedKernel("kernels-community/relu", 2, commit, relu_build_other.variant_dir.name, kernel_dir,
                           result.stdout + result.stderr)


@pytest.fixture(scope="session")
def activation_build(tmp_path_factory: pytest.TempPathFactory, build_cache: dict[str, str]) -> BuiltKernel:
    """examples/activation built once for this environment."""
    return build_example("activation", tmp_path_factory.mktemp("activation"), build_cache, "e2e")


@pytest.fixture(scope="session")
def rmsnorm_build(tmp_path_factory: pytest.TempPathFactory, build_cache: dict[str, str]) -> BuiltKernel:
    """examples/rmsnorm built once for this environment."""
    return build_example("rmsnorm", tmp_path_factory.mktemp("rmsnorm"), build_cache, "e2e")
