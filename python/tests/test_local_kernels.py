"""LOCAL_KERNELS parsing, and get_kernel/has_kernel for mapped repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import kernels
from kernels.local_kernels import local_kernel_path, parse_local_kernels

FakeVariant = Callable[..., Path]


def test_parse_single_and_multiple_entries() -> None:
    assert parse_local_kernels("kernels-community/activation=devel/activation") == {
        "kernels-community/activation": Path("devel/activation")
    }
    assert parse_local_kernels(
        "kernels-community/activation=devel/activation:kernels-community/flash-attn2=/abs/flash-attn2"
    ) == {
        "kernels-community/activation": Path("devel/activation"),
        "kernels-community/flash-attn2": Path("/abs/flash-attn2"),
    }


def test_parse_ignores_empty_entries_and_whitespace() -> None:
    assert parse_local_kernels("") == {}
    assert parse_local_kernels(" org/a = x : :org/b=y:") == {"org/a": Path("x"), "org/b": Path("y")}


@pytest.mark.parametrize("entry", ["org/name", "=path", "org/name=", "name=path", "org/name/extra=path",
                                   "org name=path"])
def test_parse_rejects_malformed_entries(entry: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_local_kernels(f"org/ok=ok:{entry}")
    assert str(info.value) == (
        f"LOCAL_KERNELS: malformed entry {entry.strip()!r} (expected org/name=path, entries separated by ':')"
    )


def test_parse_rejects_duplicate_repositories() -> None:
    with pytest.raises(ValueError, match=r"^LOCAL_KERNELS: repository 'org/a' is mapped more than once$"):
        parse_local_kernels("org/a=x:org/a=y")


def test_local_kernel_path_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_kernel_path("org/a") is None
    monkeypatch.setenv("LOCAL_KERNELS", "org/a=x")
    assert local_kernel_path("org/a") == Path("x")
    assert local_kernel_path("org/b") is None


def test_get_kernel_loads_the_mapped_path(
    monkeypatch: pytest.MonkeyPatch, fake_variant: FakeVariant, arch_variant: str
) -> None:
    variant = fake_variant(arch_variant)
    monkeypatch.setenv("LOCAL_KERNELS", f"kernels-test/other=/nowhere:kernels-test/fake={variant.parent.parent}")
    module = kernels.get_kernel("kernels-test/fake", version=1, backend="cpu")
    assert module.double(5) == 10
    assert kernels.get_kernel("kernels-test/fake", revision="main", backend="cpu") is module
    [loaded] = kernels.get_loaded_kernels()
    assert loaded.module is module and loaded.repo_info is None
    assert loaded.metadata.name == "fake-kernel"


def test_get_kernel_through_local_kernels_needs_no_version(
    monkeypatch: pytest.MonkeyPatch, fake_variant: FakeVariant, arch_variant: str
) -> None:
    variant = fake_variant(arch_variant)
    monkeypatch.setenv("LOCAL_KERNELS", f"kernels-test/fake={variant}")
    assert kernels.get_kernel("kernels-test/fake", backend="cpu").VARIANT == arch_variant


def test_get_kernel_reports_missing_variant_of_mapped_path(
    monkeypatch: pytest.MonkeyPatch, fake_variant: FakeVariant
) -> None:
    variant = fake_variant("torch211-cxx11-cu126-x86_64-linux")
    monkeypatch.setenv("LOCAL_KERNELS", f"kernels-test/fake={variant.parent.parent}")
    with pytest.raises(FileNotFoundError, match=r"found torch211-cxx11-cu126-x86_64-linux$"):
        kernels.get_kernel("kernels-test/fake", version=1, backend="cpu")


def test_malformed_local_kernels_fails_get_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KERNELS", "kernels-test/fake")
    with pytest.raises(ValueError, match="^LOCAL_KERNELS: malformed entry"):
        kernels.get_kernel("kernels-test/fake", version=1)


def test_version_and_revision_are_exclusive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCAL_KERNELS", f"kernels-test/fake={tmp_path}")
    for call in (kernels.get_kernel, kernels.has_kernel):
        with pytest.raises(ValueError, match="^Only one of `revision` or `version` must be specified: "
                           "pass either 'revision' or 'version', not both$"):
            call("kernels-test/fake", revision="main", version=1)


@pytest.mark.parametrize("version", [-1, True, "1"])
def test_version_must_be_a_non_negative_int(version: object) -> None:
    with pytest.raises(ValueError, match="'version' must be a non-negative integer"):
        kernels.get_kernel("kernels-test/fake", version=version)  # type: ignore[arg-type]


def test_hub_repositories_need_version_or_revision() -> None:
    for call in (kernels.get_kernel, kernels.has_kernel):
        with pytest.raises(ValueError, match="^A kernel version or revision must be specified: "
                           "loading 'kernels-test/fake' from the Hub needs a 'version' or a 'revision'$"):
            call("kernels-test/fake")


def test_unmapped_repositories_go_to_the_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Offline with an empty cache: the Hub path is taken, and fails without a request.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="^kernels-test/fake@v1 is not in the kernel cache"):
        kernels.get_kernel("kernels-test/fake", version=1)


def test_has_kernel_for_mapped_paths(
    monkeypatch: pytest.MonkeyPatch, fake_variant: FakeVariant, arch_variant: str, tmp_path: Path
) -> None:
    usable = fake_variant(arch_variant, root=tmp_path / "usable")
    fake_variant("torch211-cxx11-cu126-x86_64-linux", root=tmp_path / "cuda-only")
    monkeypatch.setenv(
        "LOCAL_KERNELS",
        f"org/usable={usable.parent.parent}:org/variant={usable}:org/cuda-only={tmp_path / 'cuda-only'}"
        f":org/absent={tmp_path / 'absent'}",
    )
    assert kernels.has_kernel("org/usable", version=1, backend="cpu")
    assert kernels.has_kernel("org/variant", backend="cpu")
    assert not kernels.has_kernel("org/cuda-only", version=1, backend="cpu")
    assert not kernels.has_kernel("org/absent", version=1, backend="cpu")
    # has_kernel only looks: nothing is imported.
    assert kernels.get_loaded_kernels() == []
    assert not (usable / "executions.log").exists()
