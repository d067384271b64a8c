"""The build.toml model through the library API: kernel_builder.config.

Fixtures (``project``, ``bad_project``, ``config_error_case``) come from conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel_builder.config import (
    BUILD_TOML,
    BuildConfig,
    known_dependencies,
    load_config,
    parse_config,
    supported_cuda_capabilities,
)
from kernel_builder.errors import ConfigError, KernelBuilderError
from kernels._data import load_lib_json
from packaging.version import Version

from kernel_builder._toml import tomllib


# --------------------------------------------------------------------------
# The TOML writer of conftest must write what the tests mean.


def test_dump_toml_round_trips(project: KernelProject) -> None:
    project.general["hub"] = {"repo-id": "org/k"}
    project.general["cuda"] = {"minver": "12.6"}
    project.kernel()["cuda-capabilities"] = ["8.0", "9.0a"]
    assert tomllib.loads(project.toml_text()) == project.data


# --------------------------------------------------------------------------
# Valid projects.


def test_minimal_project_is_valid(project: KernelProject) -> None:
    config = load_config(project.root)
    assert isinstance(config, BuildConfig)
    assert config.kernel_dir == project.root.resolve()
    assert config.general.name == project.name
    assert config.general.module_name == project.name
    assert config.general.backends == ("cpu", "cuda")
    assert not config.is_noarch
    assert config.torch is not None
    assert config.torch.src == ("torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h")
    assert set(config.kernels) == {"x", "x_cpu"}
    x = config.kernels["x"]
    assert (x.name, x.backend, x.depends, x.src) == ("x", "cuda", ("torch",), ("x_cuda/x.cu",))
    assert [k.name for k in config.kernels_for("cpu")] == ["x_cpu"]
    assert [k.name for k in config.kernels_for("cuda")] == ["x"]
    assert config.kernels_for("rocm") == []
    assert config.python_package_dir == project.root.resolve() / "torch-ext" / project.name


def test_load_config_accepts_str_path(project: KernelProject) -> None:
    assert load_config(str(project.root)).general.name == project.name


def test_defaults(project: KernelProject) -> None:
    del project.general["version"]
    project.write()
    config = load_config(project.root)
    general = config.general
    assert general.version == 1
    assert general.license == "Apache-2.0"
    assert general.upstream is None
    assert general.python_depends == ()
    assert general.hub.repo_id is None and general.hub.branch is None
    assert general.cuda.minver is None and general.cuda.maxver is None
    assert general.backend_python_depends == {}
    torch = config.torch
    assert torch is not None
    assert torch.pyext == ("py", "pyi")
    assert torch.include == ()
    assert torch.minver is None and torch.maxver is None and torch.stable_abi is None
    x = config.kernels["x"]
    assert x.cuda_capabilities is None  # None means: the toolkit's defaults
    assert x.include == () and x.cxx_flags == () and x.cuda_flags == ()
    assert x.cuda_minver is None


def test_all_options_are_read(project: KernelProject) -> None:
    project.add_file("include/common.h")
    project.add_file("x_cuda/include/x.h")
    project.general.update(
        {"version": 3, "license": "MIT", "upstream": "https://example.com/k", "python-depends": ["einops"]}
    )
    project.general["hub"] = {"repo-id": "my-org/my.kernel_2", "branch": "dev"}
    project.general["cuda"] = {"minver": "12.6", "maxver": "13.0", "python-depends": ["nvidia-cutlass-dsl"]}
    project.torch.update(
        {"include": ["include"], "pyext": ["py", "pyi", "json"], "minver": "2.11", "maxver": "2.12",
         "stable-abi": "2.11"}
    )
    project.kernel().update(
        {"include": ["x_cuda/include"], "cuda-capabilities": ["8.0", "9.0a", "12.0"], "cuda-flags": ["-lineinfo"],
         "cxx-flags": ["-DX=1"], "cuda-minver": "12.8", "depends": ["torch", "cutlass_3_6"]}
    )
    project.kernel("x_cpu")["cxx-flags"] = ["-O3", "-march=native"]
    project.write()
    config = load_config(project.root)
    g = config.general
    assert (g.version, g.license, g.upstream) == (3, "MIT", "https://example.com/k")
    assert g.python_depends == ("einops",)
    assert (g.hub.repo_id, g.hub.branch) == ("my-org/my.kernel_2", "dev")
    assert (g.cuda.minver, g.cuda.maxver) == (Version("12.6"), Version("13.0"))
    assert g.cuda.python_depends == ("nvidia-cutlass-dsl",)
    assert g.backend_python_depends == {"cuda": ("nvidia-cutlass-dsl",)}
    t = config.torch
    assert t is not None
    assert t.include == ("include",)
    assert t.pyext == ("py", "pyi", "json")
    assert (t.minver, t.maxver, t.stable_abi) == (Version("2.11"), Version("2.12"), Version("2.11"))
    x = config.kernels["x"]
    assert x.include == ("x_cuda/include",)
    assert x.cuda_capabilities == ("8.0", "9.0a", "12.0")
    assert x.cuda_flags == ("-lineinfo",)
    assert x.cxx_flags == ("-DX=1",)
    assert x.cuda_minver == Version("12.8")
    assert x.depends == ("torch", "cutlass_3_6")
    assert config.kernels["x_cpu"].cxx_flags == ("-O3", "-march=native")


def test_dashed_name_becomes_underscored_module(project: KernelProject) -> None:
    project.rename_package("my-kernel")
    project.write()
    config = load_config(project.root)
    assert config.general.name == "my-kernel"
    assert config.general.module_name == "my_kernel"
    assert config.python_package_dir.name == "my_kernel"


@pytest.mark.parametrize("name", ["relu", "_private", "Relu2", "a", "layer_norm", "flash-attn-3"])
def test_valid_names(project: KernelProject, name: str) -> None:
    project.rename_package(name)
    project.write()
    assert load_config(project.root).general.module_name == name.replace("-", "_")


@pytest.mark.parametrize("caps", [["8.0", "9.0"], ["9.0a"], ["5.0", "7.5"], ["12.1a"], ["11.0", "12.0"]])
def test_cuda_capabilities_subset_accepted(project: KernelProject, caps: list[str]) -> None:
    project.kernel()["cuda-capabilities"] = caps
    project.write()
    assert load_config(project.root).kernels["x"].cuda_capabilities == tuple(caps)


def test_supported_cuda_capabilities_is_union_of_toolkits() -> None:
    toolkits = load_lib_json("cuda")["toolkits"]
    union = {cap for t in toolkits.values() for cap in t["supported"]}
    caps = supported_cuda_capabilities()
    assert set(caps) == union
    assert len(caps) == len(union)
    # Sorted numerically, not as strings: 8.0 before 10.0, 9.0 before 9.0a.
    assert caps.index("8.0") < caps.index("10.0")
    assert caps.index("9.0") < caps.index("9.0a")
    assert "4.0" not in caps


@pytest.mark.parametrize(
    "dep,backend",
    [(dep, backend) for dep, backends in known_dependencies().items() for backend in backends
     if backend in ("cpu", "cuda")],
)
def test_every_known_dependency_accepted_on_its_backend(project: KernelProject, dep: str, backend: str) -> None:
    kernel = "x" if backend == "cuda" else "x_cpu"
    project.kernel(kernel)["depends"] = [dep]
    project.write()
    assert load_config(project.root).kernels[kernel].depends == (dep,)


def test_known_dependencies_match_lib_json() -> None:
    deps = known_dependencies()
    assert "_comment" not in deps
    assert deps["torch"] == ("cpu", "cuda", "metal", "neuron", "rocm", "xpu")
    assert deps["cutlass_3_6"] == ("cuda",)


def test_depends_may_be_empty(project: KernelProject) -> None:
    project.kernel("x_cpu")["depends"] = []
    project.write()
    assert load_config(project.root).kernels["x_cpu"].depends == ()


def test_symlink_inside_project_is_accepted(project: KernelProject) -> None:
    (project.root / "x_cpu" / "alias.cpp").symlink_to("x.cpp")
    (project.root / "linked_cuda").symlink_to("x_cuda", target_is_directory=True)
    project.kernel("x_cpu")["src"] = ["x_cpu/alias.cpp"]
    project.kernel()["src"] = ["linked_cuda/x.cu"]
    project.write()
    config = load_config(project.root)
    assert config.kernels["x_cpu"].src == ("x_cpu/alias.cpp",)
    assert config.kernels["x"].src == ("linked_cuda/x.cu",)


def test_project_reached_through_symlink(project: KernelProject, tmp_path: Path) -> None:
    """A kernel directory that is itself a symlink still validates its own paths."""
    link = tmp_path / "link"
    link.symlink_to(project.root, target_is_directory=True)
    config = load_config(link)
    assert config.kernel_dir == project.root.resolve()


def test_dotted_inner_path_inside_project(project: KernelProject) -> None:
    project.kernel("x_cpu")["src"] = ["./x_cpu/x.cpp"]
    project.write()
    assert load_config(project.root).kernels["x_cpu"].src == ("./x_cpu/x.cpp",)


def test_rocm_kernel_with_valid_archs(project: KernelProject) -> None:
    project.general["backends"] = ["cpu", "cuda", "rocm"]
    project.add_file("x_rocm/x.hip")
    project.data["kernel"]["r"] = {
        "backend": "rocm", "depends": ["torch"], "src": ["x_rocm/x.hip"],
        "rocm-archs": ["gfx90a", "gfx942", "gfx1100"], "hip-flags": ["-O3"],
    }
    project.write()
    r = load_config(project.root).kernels["r"]
    assert r.rocm_archs == ("gfx90a", "gfx942", "gfx1100")
    assert r.hip_flags == ("-O3",)


def test_xpu_kernel_with_sycl_flags(project: KernelProject) -> None:
    project.general["backends"] = ["xpu"]
    project.add_file("x_xpu/x.cpp")
    project.data["kernel"] = {
        "k": {"backend": "xpu", "depends": ["torch", "sycl_tla"], "src": ["x_xpu/x.cpp"], "sycl-flags": ["-fsycl"]}
    }
    project.general["xpu"] = {"python-depends": ["onednn"]}
    project.write()
    config = load_config(project.root)
    assert config.kernels["k"].sycl_flags == ("-fsycl",)
    assert config.general.backend_python_depends == {"xpu": ("onednn",)}


def test_noarch_project(project: KernelProject) -> None:
    """No [torch] and no [kernel.*]: a Python-only kernel."""
    del project.data["torch"]
    del project.data["kernel"]
    project.write()
    config = load_config(project.root)
    assert config.is_noarch
    assert config.torch is None
    assert config.kernels == {}


def test_torch_without_kernels(project: KernelProject) -> None:
    del project.data["kernel"]
    project.write()
    config = load_config(project.root)
    assert not config.is_noarch
    assert config.kernels == {}


def test_parse_config_takes_data(project: KernelProject) -> None:
    config = parse_config(project.data, project.root.resolve(), "somewhere/build.toml")
    assert config.general.name == project.name
    with pytest.raises(ConfigError) as info:
        parse_config({"general": {"name": project.name}}, project.root.resolve(), "somewhere/build.toml")
    assert info.value.file == "somewhere/build.toml"
    assert info.value.key == "general.backends"


def test_build_toml_constant() -> None:
    assert BUILD_TOML == "build.toml"


# --------------------------------------------------------------------------
# Invalid projects: every case of conftest.CONFIG_ERROR_CASES.


def test_config_error(bad_project: KernelProject, config_error_case: ConfigErrorCase) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(bad_project.root)
    error = info.value
    assert isinstance(error, KernelBuilderError)
    assert error.file == str(bad_project.build_toml)
    assert error.key == config_error_case.key
    for hint in config_error_case.hints:
        assert hint in error.message, f"{hint!r} not in {error.message!r}"
    assert str(error) == f"{error.file}: {error.key}: {error.message}"
    assert "\n" not in str(error)


def test_error_names_first_problem_only_once(project: KernelProject) -> None:
    """Two problems: the error is about one of them, as one line."""
    project.general["colour"] = "red"
    project.kernel()["cuda-capabilities"] = ["4.0"]
    project.write()
    with pytest.raises(ConfigError) as info:
        load_config(project.root)
    assert info.value.key in ("general.colour", "kernel.x.cuda-capabilities")
    assert "\n" not in str(info.value)


def test_missing_build_toml(project: KernelProject) -> None:
    project.build_toml.unlink()
    with pytest.raises(ConfigError) as info:
        load_config(project.root)
    assert info.value.file == str(project.build_toml)
    assert info.value.key == ""
    assert "not found" in info.value.message
    assert str(info.value) == f"{project.build_toml}: {info.value.message}"


def test_build_toml_is_a_directory(project: KernelProject) -> None:
    project.build_toml.unlink()
    project.build_toml.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(project.root)
    assert info.value.file == str(project.build_toml)


def test_missing_kernel_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope")
    assert info.value.file == str(tmp_path / "nope")
    assert "does not exist" in info.value.message


@pytest.mark.parametrize(
    "text",
    ["[general\nname = 'x'\n", "[general]\nname = \n", "[general]\nname = 'a'\nname = 'b'\n", "this is not toml\n"],
    ids=["unclosed-table", "missing-value", "duplicate-key", "prose"],
)
def test_invalid_toml(project: KernelProject, text: str) -> None:
    project.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(project.root)
    assert info.value.file == str(project.build_toml)
    assert info.value.message.startswith("invalid TOML: ")
    assert "line" in info.value.message  # where the mistake is
    assert "\n" not in str(info.value)


def test_not_utf8(project: KernelProject) -> None:
    project.build_toml.write_bytes(b"[general]\nname = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError) as info:
        load_config(project.root)
    assert "UTF-8" in info.value.message
