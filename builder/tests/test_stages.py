"""The pieces the builder's stages share: CMake template substitution, version bounds, the toolchain choice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from packaging.version import Version

from kernel_builder.build import choose_toolchain
from kernel_builder.config import load_config
from kernel_builder.errors import KernelBuilderError
from kernel_builder.generate.cmake import CMAKE_BACKENDS, backend_sections, substitute
from kernel_builder.options import BuildOptions
from kernel_builder.plan import VersionBounds, check_installed_versions

RELU = Path(__file__).resolve().parents[2] / "examples" / "relu"
KNOWN_SECTIONS = {"languages", "toolchain", "after-torch", "link", "functions", "extension",
                  "kernel-sources", "kernel-options"}


def test_substitute_replaces_placeholders_and_leaves_cmake_syntax_alone() -> None:
    text = 'set(X "{{name}}")\nmessage("${X} @ONLY {x}")'
    assert substitute(text, {"name": "relu"}) == 'set(X "relu")\nmessage("${X} @ONLY {x}")'


def test_substitute_drops_a_line_whose_optional_placeholder_is_empty() -> None:
    text = "a\n  opts({{?flags}})\nb {{plain}}"
    assert substitute(text, {"flags": "", "plain": ""}) == "a\nb "
    assert substitute(text, {"flags": "-O3", "plain": "x"}) == "a\n  opts(-O3)\nb x"


def test_substitute_computes_callable_values_and_refuses_unknown_names() -> None:
    assert substitute("{{v}}", {"v": lambda: "computed"}) == "computed"
    with pytest.raises(KeyError, match="missing"):
        substitute("{{missing}}", {})


@pytest.mark.parametrize("backend", CMAKE_BACKENDS)
def test_backend_templates_have_only_known_sections(backend: str) -> None:
    sections = backend_sections(backend)
    assert "kernel-options" in sections
    assert set(sections) <= KNOWN_SECTIONS


def test_check_installed_versions_names_the_bound() -> None:
    config = load_config(RELU)
    assert config.torch is not None
    bounded = dataclasses.replace(config, torch=dataclasses.replace(config.torch, minver=Version("2.14"),
                                                                    maxver=Version("2.20")))
    assert VersionBounds.of(bounded).torch_minver == "2.14"
    check_installed_versions(bounded, "2.14.1", None)
    check_installed_versions(bounded, "2.20.0", None)
    with pytest.raises(KernelBuilderError, match=r"torch\.minver: the installed Torch 2\.13\.0 is older than 2\.14"):
        check_installed_versions(bounded, "2.13.0", None)
    with pytest.raises(KernelBuilderError, match=r"torch\.maxver: the installed Torch 2\.21\.0 is newer than 2\.20"):
        check_installed_versions(bounded, "2.21.0", None)


def test_local_option_decides_the_toolchain_without_asking_nix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    config = load_config(RELU)
    assert choose_toolchain(config, BuildOptions(local=True)).reason == "--local given"
    chosen = choose_toolchain(config, BuildOptions())
    assert not chosen.uses_nix and chosen.reason == "Nix is not installed"
