"""Adding a backend is data: one record in a copy of lib/ and everything that names variants follows.

The ``lib_with_new_backend`` fixture writes a copy of ``lib/`` whose
``backends.json`` has one more backend (``vulkan``, tag ``vk<major><minor>``)
whose ``torch-versions.json`` has one build for it and whose ``dependencies.json`` lets its kernels
depend on Torch, and activates it with
:func:`kernels._data.use_lib_dir`. Tests of the builder side (config, init,
list-variants) belong here too: request the fixture and drive the builder as
usual; it reads the same registry.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from packaging.version import Version

from kernels import matrix
from kernels._data import lib_dir, use_lib_dir
from kernels.backends import backend_value, registry
from kernels.environment import Environment
from kernels.selection import VariantAccepted, VariantRejected, decide, describe_compute
from kernels.variants import ArchVariant, arch_variant, noarch_variant, parse_variant

NEW_BACKEND = "vulkan"
NEW_RECORD = {
    "label": "Vulkan", "compute-tag": "vk{major}{minor}", "toolkit": None, "cmake": "vulkan",
    "abi-policy": "manylinux", "torch-device": "vulkan", "noarch": "vulkan", "build-toml": True,
    "kernel-sections": True, "archs": False, "metadata": True,
}
NEW_BUILD = {"torch": "2.13.0", "backend": NEW_BACKEND, "toolkit": "1.4", "systems": ["x86_64-linux"]}


@pytest.fixture
def lib_with_new_backend(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "lib"
    shutil.copytree(lib_dir(), copy)
    backends = json.loads((copy / "backends.json").read_text())
    backends["backends"][NEW_BACKEND] = NEW_RECORD
    (copy / "backends.json").write_text(json.dumps(backends))
    versions = json.loads((copy / "torch-versions.json").read_text())
    versions["builds"].append(NEW_BUILD)
    (copy / "torch-versions.json").write_text(json.dumps(versions))
    dependencies = json.loads((copy / "dependencies.json").read_text())
    dependencies["torch"]["backends"].append(NEW_BACKEND)  # its kernels bind to Torch
    (copy / "dependencies.json").write_text(json.dumps(dependencies))
    with use_lib_dir(copy):
        yield copy


def test_the_registry_and_variant_names_pick_it_up(lib_with_new_backend: Path) -> None:
    assert NEW_BACKEND in registry() and NEW_BACKEND in registry().build_toml_names()
    value = backend_value(NEW_BACKEND, "1.4")
    assert (value.name, value.variant_str) == (NEW_BACKEND, "vk14")
    name = "torch213-cxx11-vk14-x86_64-linux"
    variant = parse_variant(name)
    assert isinstance(variant, ArchVariant) and variant.backend == value and variant.variant_str == name
    assert arch_variant("2.13.0", NEW_BACKEND, "1.4", "x86_64", "linux").variant_str == name
    assert parse_variant("torch-2.13-cxx11-vulkan-1.4-cpython-3.9-abi3-x86_64-linux").backend == value
    assert noarch_variant(NEW_BACKEND).variant_str == "torch-vulkan"
    assert parse_variant("torch-vulkan").backend_name == NEW_BACKEND
    assert describe_compute("vk14") == "Vulkan 1.4"


def test_the_matrix_lists_its_variants(lib_with_new_backend: Path) -> None:
    assert [b.variant for b in matrix.builds(backend=NEW_BACKEND)] == ["torch213-cxx11-vk14-x86_64-linux"]
    assert matrix.variants_for([NEW_BACKEND], system="x86_64-linux") == ["torch213-cxx11-vk14-x86_64-linux"]
    assert matrix.variants_for([NEW_BACKEND, "cpu"], system="x86_64-linux", noarch=True) == [
        "torch-cpu", "torch-vulkan"]


def test_selection_picks_it_for_an_environment_on_that_backend(lib_with_new_backend: Path) -> None:
    env = Environment(torch_version="2.13.0", cxx11_abi=True, backend=NEW_BACKEND, compute="vk14",
                      arch="x86_64", os="linux", toolkit=Version("1.4"))
    names = ["torch-universal", "torch213-cxx11-vk14-x86_64-linux", "torch-vulkan",
             "torch213-cxx11-vk13-x86_64-linux", "torch213-cxx11-cpu-x86_64-linux"]
    decisions = decide(names, environment=env)
    assert decisions[:3] == [VariantAccepted("torch213-cxx11-vk14-x86_64-linux", 0),
                             VariantAccepted("torch-vulkan", 1), VariantAccepted("torch-universal", 2)]
    assert decisions[3:] == [
        VariantRejected("torch213-cxx11-cpu-x86_64-linux",
                        "built for backend cpu (CPU) instead of vulkan (Vulkan 1.4)"),
        VariantRejected("torch213-cxx11-vk13-x86_64-linux", "built for Vulkan 1.3 instead of Vulkan 1.4"),
    ]


def test_outside_the_block_the_backend_is_unknown(lib_with_new_backend: Path) -> None:
    with use_lib_dir(Path(__file__).resolve().parents[1] / "lib"):
        assert NEW_BACKEND not in registry()
        with pytest.raises(ValueError):
            parse_variant("torch213-cxx11-vk14-x86_64-linux")
    assert NEW_BACKEND in registry()


# --- the builder side: config, list-variants, init; and kernel mappings --------------------------------

NEW_BUILD_TOML = f"""\
[general]
name = "vk-relu"
version = 1
edition = 5
license = "Apache-2.0"
backends = ["{NEW_BACKEND}"]

[torch]
src = ["torch-ext/torch_binding.cpp"]

[kernel.relu_{NEW_BACKEND}]
backend = "{NEW_BACKEND}"
depends = ["torch"]
src = ["relu_{NEW_BACKEND}/relu.cpp"]
"""


def _new_backend_project(root: Path) -> Path:
    project = root / "vk-relu"
    for rel in ("torch-ext/torch_binding.cpp", f"relu_{NEW_BACKEND}/relu.cpp", "torch-ext/vk_relu/__init__.py"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("// empty\n" if rel.endswith(".cpp") else "")
    (project / "build.toml").write_text(NEW_BUILD_TOML)
    return project


def _kernel_builder(*args: str):
    from click.testing import CliRunner

    from kernel_builder.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_config_accepts_it_in_general_and_kernel_sections(lib_with_new_backend: Path, tmp_path: Path) -> None:
    from kernel_builder.config import load_config

    project = _new_backend_project(tmp_path)
    config = load_config(project)
    assert config.general.backends == (NEW_BACKEND,)
    assert [k.backend for k in config.kernels.values()] == [NEW_BACKEND]
    result = _kernel_builder("check-config", str(project))
    assert result.exit_code == 0, result.output


def test_list_variants_lists_its_variant(lib_with_new_backend: Path, tmp_path: Path) -> None:
    result = _kernel_builder("list-variants", str(_new_backend_project(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "torch213-cxx11-vk14-x86_64-linux" in result.output.split()


def test_init_scaffolds_a_kernel_for_it(lib_with_new_backend: Path, tmp_path: Path) -> None:
    from kernel_builder.config import load_config

    result = _kernel_builder("init", str(tmp_path / "vk-thing"), "--name", "org/vk-thing", "--backends", NEW_BACKEND)
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "vk-thing")
    assert config.general.backends == (NEW_BACKEND,)
    assert [k.backend for k in config.kernels.values()] == [NEW_BACKEND]


def test_kernel_mappings_accept_its_device_type(lib_with_new_backend: Path) -> None:
    from kernels import Device
    from kernels.layer.device import device_types

    assert NEW_BACKEND in device_types() and Device(NEW_BACKEND).type == NEW_BACKEND
