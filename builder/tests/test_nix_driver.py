"""The Nix driver of kernel-builder, without Nix.

A fake ``nix`` on the PATH records its arguments and fakes the results: a
``nix build`` leaves an out-link to a store-like directory, a ``nix develop``
exits with a chosen status. These tests check which Nix command each
kernel-builder command runs, how options map onto Nix flags, how results are
copied into build/ (all or nothing), and when the local path is taken instead.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from kernel_builder.build import local as local_build, nix, nix_sandbox
from kernel_builder.check.abi import elf
from kernel_builder.errors import KernelBuilderError

FAKE_NIX = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    from pathlib import Path

    args = sys.argv[1:]
    with open(os.environ["FAKE_NIX_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    if args[:1] == ["eval"]:
        if os.environ.get("FAKE_NIX_FLAKES") == "0":
            sys.stderr.write("error: experimental Nix feature 'nix-command' is disabled\\n")
            sys.exit(1)
        print("true")
        sys.exit(0)
    if args[:1] == ["develop"]:
        sys.exit(int(os.environ.get("FAKE_NIX_EXIT", "0")))
    if args[:1] == ["build"]:
        if os.environ.get("FAKE_NIX_FAIL") == "1":
            sys.stderr.write("error: builder for '/nix/store/x.drv' failed with exit code 1\\n")
            sys.exit(1)
        ref = args[1]
        out_link = Path(args[args.index("--out-link") + 1])
        store = Path(os.environ["FAKE_NIX_STORE"]) / str(len(os.listdir(os.environ["FAKE_NIX_STORE"])))
        attr = ref.split("#", 1)[1]

        def variant(directory, name):
            directory.mkdir(parents=True)
            backend = "cuda" if "-cu" in name else "cpu"
            meta = {{"id": "_mykernel_" + backend + "_fake", "name": "mykernel", "version": 1,
                    "license": "Apache-2.0", "backend": {{"type": backend}}}}
            (directory / "metadata.json").write_text(json.dumps(meta))
            (directory / "__init__.py").write_text("# " + name + "\\n")
            (directory / "mykernel").mkdir()
            (directory / "mykernel" / "__init__.py").write_text("")
            for path in [directory / "mykernel" / "__init__.py", directory / "mykernel",
                         directory / "metadata.json", directory / "__init__.py", directory]:
                path.chmod(0o555 if path.is_dir() else 0o444)  # like the Nix store

        if attr.endswith(".bundle"):
            store.mkdir(parents=True)
            for name in os.environ["FAKE_NIX_VARIANTS"].split(","):
                variant(store / name, name)
            store.chmod(0o555)
        else:
            variant(store, attr.rsplit(".", 1)[1])
        out_link.symlink_to(store)
        sys.exit(0)
    sys.stderr.write("fake nix: unexpected arguments " + " ".join(args) + "\\n")
    sys.exit(2)
    """
)

BUNDLE = ["torch212-cxx11-cpu-x86_64-linux", "torch212-cxx11-cu126-x86_64-linux"]


class FakeNix:
    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.log = root / "nix.log"
        self.store = root / "store"
        self.bin.mkdir(parents=True)
        self.store.mkdir()
        script = self.bin / "nix"
        script.write_text(FAKE_NIX.format(python=sys.executable))
        script.chmod(0o755)

    @property
    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def builds(self) -> list[list[str]]:
        return [c for c in self.calls if c[:1] == ["build"]]

    def cleanup(self) -> None:
        for dirpath, dirnames, _ in os.walk(self.store):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        self.store.chmod(0o755)


@pytest.fixture
def fake_nix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = FakeNix(tmp_path / "fake-nix")
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_NIX_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_NIX_STORE", str(fake.store))
    monkeypatch.setenv("FAKE_NIX_VARIANTS", ",".join(BUNDLE))
    monkeypatch.delenv(nix.NIX_ARGS_ENV, raising=False)
    monkeypatch.setattr(nix, "host_system", lambda: "x86_64-linux")
    yield fake
    fake.cleanup()


@pytest.fixture
def flake_project(project: Any) -> Any:
    project.add_file("flake.nix", "{ outputs = { self }: { }; }\n")
    return project


@pytest.fixture
def local_builds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record calls of the local (host-toolchain) build instead of compiling."""
    calls: list[Any] = []

    def fake_build_local(config: Any, options: Any, log: Callable[[str], None] = print) -> list[Any]:
        calls.append(options)
        return []

    monkeypatch.setattr(local_build, "build_local", fake_build_local)
    return calls


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): (p.read_text() if p.is_file() else "/")
            for p in sorted(root.rglob("*"))}


# --------------------------------------------------------------------------
# Command construction.


def test_options_map_onto_nix_flags() -> None:
    assert nix.NixOptions().flags() == []
    options = nix.NixOptions(max_jobs=3, cores=2, print_build_logs=True, extra_args=("--offline",))
    assert options.flags() == ["--max-jobs", "3", "--cores", "2", "-L", "--offline"]


def test_extra_arguments_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(nix.NIX_ARGS_ENV, "--offline --override-input kernel-builder 'path:/src/my kernels'")
    assert nix.NixOptions.from_env(cores=4).flags() == [
        "--cores", "4", "--offline", "--override-input", "kernel-builder", "path:/src/my kernels",
    ]


def test_attributes_for_bundle_variant_and_shells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nix, "host_system", lambda: "x86_64-linux")
    assert nix.build_attr(None) == "packages.x86_64-linux.bundle"
    assert nix.build_attr("torch212-cxx11-cu126-x86_64-linux") == "packages.x86_64-linux.torch212-cxx11-cu126-x86_64-linux"
    # A variant of another system is that system's package.
    assert nix.build_attr("torch212-cxx11-cu126-aarch64-linux") == "packages.aarch64-linux.torch212-cxx11-cu126-aarch64-linux"
    assert nix.build_attr("torch212-cpu-aarch64-darwin") == "packages.aarch64-darwin.torch212-cpu-aarch64-darwin"
    # Python-only variants are built on this system.
    assert nix.build_attr("torch-cuda") == "packages.x86_64-linux.torch-cuda"
    assert nix.shell_attr("devshell", None) == "devShells.x86_64-linux.default"
    assert nix.shell_attr("testshell", "torch212-cxx11-cpu-x86_64-linux") == (
        "testShells.x86_64-linux.torch212-cxx11-cpu-x86_64-linux"
    )
    with pytest.raises(KernelBuilderError, match="not a build variant name"):
        nix.build_attr("cuda-please")


def test_command_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nix, "host_system", lambda: "x86_64-linux")
    options = nix.NixOptions(max_jobs=2, print_build_logs=True)
    kernel = tmp_path / "k"
    assert nix.build_command("/usr/bin/nix", kernel, "packages.x86_64-linux.bundle", tmp_path / "r", options) == [
        "/usr/bin/nix", "build", f"{kernel}#packages.x86_64-linux.bundle", "--out-link", str(tmp_path / "r"),
        "--max-jobs", "2", "-L",
    ]
    assert nix.develop_command("nix", kernel, "devShells.x86_64-linux.default", nix.NixOptions()) == [
        "nix", "develop", f"{kernel}#devShells.x86_64-linux.default",
    ]
    assert nix.run_command("nix", kernel, "ci-test", nix.NixOptions(), ["-x"]) == [
        "nix", "run", f"{kernel}#apps.x86_64-linux.ci-test", "--", "-x",
    ]
    assert nix.format_command(["/nix/var/nix/profiles/default/bin/nix", "build", "a b#c"]) == "nix build 'a b#c'"


# --------------------------------------------------------------------------
# kernel-builder build with Nix.


def test_build_runs_nix_build_of_the_bundle_and_copies_it(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    result = cli("build", flake_project.root, "--max-jobs", "3", "--cores", "2", "-L")
    assert result.exit_code == 0, result.output
    [call] = fake_nix.builds()
    assert call[:2] == ["build", f"{flake_project.root.resolve()}#packages.x86_64-linux.bundle"]
    assert call[2] == "--out-link"
    assert call[4:] == ["--max-jobs", "3", "--cores", "2", "-L"]
    # The Nix command is printed (shell-quoted) before it runs.
    [printed] = [line for line in result.stderr.splitlines() if line.startswith("Running: ")]
    assert shlex.split(printed[len("Running: "):]) == ["nix", *call]
    assert f"Built 2 variant(s) with Nix into" in result.stdout and ", ".join(BUNDLE) in result.stdout
    build = flake_project.root / "build"
    assert sorted(p.name for p in build.iterdir()) == BUNDLE
    for name in BUNDLE:
        assert (build / name / "__init__.py").read_text() == f"# {name}\n"
        # Copies out of the (read-only) store are writable and removable.
        assert os.access(build / name / "metadata.json", os.W_OK)
        assert os.access(build / name / "mykernel", os.W_OK)
    shutil.rmtree(build)
    # The out-link (a GC root) does not stay behind in the kernel directory.
    assert not (flake_project.root / "result").exists()


def test_build_and_copy_is_the_same_nix_build(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    result = cli("build-and-copy", flake_project.root)
    assert result.exit_code == 0, result.output
    [call] = fake_nix.builds()
    assert call[1].endswith("#packages.x86_64-linux.bundle")
    assert call[4:] == []


def test_build_one_variant(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    variant = "torch212-cxx11-cu126-x86_64-linux"
    result = cli("build", flake_project.root, "--variant", variant)
    assert result.exit_code == 0, result.output
    [call] = fake_nix.builds()
    assert call[1] == f"{flake_project.root.resolve()}#packages.x86_64-linux.{variant}"
    build = flake_project.root / "build"
    assert [p.name for p in build.iterdir()] == [variant]
    assert (build / variant / "__init__.py").read_text() == f"# {variant}\n"


def test_variant_of_another_system(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    variant = "torch211-cxx11-cu128-aarch64-linux"
    result = cli("build", flake_project.root, "--variant", variant)
    assert result.exit_code == 0, result.output
    [call] = fake_nix.builds()
    assert call[1].endswith(f"#packages.aarch64-linux.{variant}")


@pytest.mark.parametrize("variant, why", [
    ("torch212-cxx11-rocm71-x86_64-linux", "not a variant of mykernel"),  # backend not in build.toml
    ("torch29-cxx11-cu126-x86_64-linux", "not a variant of mykernel"),  # not in the matrix
    ("nonsense", "not a build variant name"),
])
def test_unknown_variants_are_refused_before_nix_runs(fake_nix: FakeNix, flake_project: Any, cli: Any,
                                                     expect_error: Any, variant: str, why: str) -> None:
    result = cli("build", flake_project.root, "--variant", variant)
    expect_error(result, "--variant", why)
    assert fake_nix.builds() == []


def test_variant_outside_the_version_bounds_is_refused(fake_nix: FakeNix, flake_project: Any, cli: Any,
                                                      expect_error: Any) -> None:
    flake_project.general["cuda"] = {"maxver": "12.8"}
    flake_project.torch["minver"] = "2.12"
    flake_project.write()
    expect_error(cli("build", flake_project.root, "--variant", "torch212-cxx11-cu130-x86_64-linux"),
                 "not a variant", "torch212-cxx11-cu126-x86_64-linux")
    expect_error(cli("build", flake_project.root, "--variant", "torch211-cxx11-cu126-x86_64-linux"), "not a variant")
    assert fake_nix.builds() == []


def test_failed_nix_build_leaves_build_dir_alone(fake_nix: FakeNix, flake_project: Any, cli: Any,
                                                monkeypatch: pytest.MonkeyPatch, expect_error: Any) -> None:
    previous = flake_project.add_file(f"build/{BUNDLE[0]}/old.txt", "previous build\n")
    monkeypatch.setenv("FAKE_NIX_FAIL", "1")
    result = cli("build", flake_project.root)
    assert result.exit_code == 1 and "Traceback" not in result.output
    *_, line = result.stderr.splitlines()
    assert line.startswith("error: nix build failed with exit status 1") and "-L" in line
    assert "#packages.x86_64-linux.bundle" in line
    assert previous.read_text() == "previous build\n"
    assert [p.name for p in (flake_project.root / "build").iterdir()] == [BUNDLE[0]]


def test_copy_replaces_variants_and_keeps_other_builds(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    flake_project.add_file(f"build/{BUNDLE[0]}/stale.txt", "old\n")
    flake_project.add_file("build/torch211-cxx11-cpu-x86_64-linux/__init__.py", "# older variant\n")
    result = cli("build", flake_project.root)
    assert result.exit_code == 0, result.output
    build = flake_project.root / "build"
    assert not (build / BUNDLE[0] / "stale.txt").exists()
    assert (build / "torch211-cxx11-cpu-x86_64-linux" / "__init__.py").read_text() == "# older variant\n"
    assert sorted(p.name for p in build.iterdir()) == sorted(BUNDLE + ["torch211-cxx11-cpu-x86_64-linux"])


def test_copy_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = []
    for name in BUNDLE:
        source = tmp_path / "store" / name
        source.mkdir(parents=True)
        (source / "__init__.py").write_text(f"# new {name}\n")
        sources.append((name, source))
    build = tmp_path / "kernel" / "build"
    for name in BUNDLE:
        (build / name).mkdir(parents=True)
        (build / name / "__init__.py").write_text(f"# old {name}\n")
    before = _tree(build)

    real_copytree = shutil.copytree
    copies = []

    def failing_copytree(src: Any, dst: Any, **kwargs: Any) -> Any:
        copies.append(src)
        if len(copies) == 2:
            raise OSError(28, "No space left on device")
        return real_copytree(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copytree", failing_copytree)
    with pytest.raises(OSError, match="No space left"):
        nix.copy_variants(sources, build)
    # Neither variant was replaced, and no temporary directory is left.
    assert _tree(build) == before

    monkeypatch.setattr(shutil, "copytree", real_copytree)
    nix.copy_variants(sources, build)
    assert {n: (build / n / "__init__.py").read_text() for n in BUNDLE} == {n: f"# new {n}\n" for n in BUNDLE}
    assert sorted(p.name for p in build.iterdir()) == BUNDLE


def test_extra_nix_arguments_are_passed(fake_nix: FakeNix, flake_project: Any, cli: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(nix.NIX_ARGS_ENV, "--offline --override-input kernel-builder path:/src")
    result = cli("build", flake_project.root, "--cores", "1")
    assert result.exit_code == 0, result.output
    [call] = fake_nix.builds()
    assert call[4:] == ["--cores", "1", "--offline", "--override-input", "kernel-builder", "path:/src"]


def test_unique_id_needs_the_local_build(fake_nix: FakeNix, flake_project: Any, cli: Any, expect_error: Any) -> None:
    expect_error(cli("build", flake_project.root, "--unique-id", "abc"), "--unique-id", "--local")
    assert fake_nix.builds() == []


def test_card_is_written_after_a_nix_build(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    flake_project.add_file("CARD.md", "# {{ name }}\n")
    result = cli("build", flake_project.root)
    assert result.exit_code == 0, result.output
    assert (flake_project.root / "build" / "CARD.md").is_file()


# --------------------------------------------------------------------------
# When the local path is taken.


def test_local_flag_never_runs_nix(fake_nix: FakeNix, flake_project: Any, cli: Any, local_builds: list[Any]) -> None:
    result = cli("build", flake_project.root, "--local", "--variant", "torch212-cxx11-cpu-x86_64-linux")
    assert result.exit_code == 0, result.output
    assert fake_nix.calls == []
    assert "--local given" in result.stderr and "host toolchain" in result.stderr
    assert [o.variant for o in local_builds] == ["torch212-cxx11-cpu-x86_64-linux"]


def test_nix_without_flakes_builds_locally(fake_nix: FakeNix, flake_project: Any, cli: Any,
                                          local_builds: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NIX_FLAKES", "0")
    result = cli("build", flake_project.root)
    assert result.exit_code == 0, result.output
    assert fake_nix.builds() == []
    assert "'nix-command' and 'flakes' features are not enabled" in result.stderr
    assert len(local_builds) == 1


def test_kernel_without_flake_builds_locally(fake_nix: FakeNix, project: Any, cli: Any,
                                            local_builds: list[Any]) -> None:
    result = cli("build", project.root)
    assert result.exit_code == 0, result.output
    assert fake_nix.calls == []
    assert "flake.nix does not exist" in result.stderr
    assert len(local_builds) == 1


def test_no_nix_builds_locally(tmp_path: Path, flake_project: Any, cli: Any, local_builds: list[Any],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = cli("build", flake_project.root)
    assert result.exit_code == 0, result.output
    assert "Nix is not installed" in result.stderr
    assert len(local_builds) == 1


# --------------------------------------------------------------------------
# Shells.


def test_devshell_runs_nix_develop(fake_nix: FakeNix, flake_project: Any, cli: Any) -> None:
    result = cli("devshell", flake_project.root, "-L")
    assert result.exit_code == 0, result.output
    develop = [c for c in fake_nix.calls if c[:1] == ["develop"]]
    assert develop == [["develop", f"{flake_project.root.resolve()}#devShells.x86_64-linux.default", "-L"]]
    assert "Running: nix develop" in result.stderr


def test_testshell_of_a_variant_and_its_exit_status(fake_nix: FakeNix, flake_project: Any, cli: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NIX_EXIT", "3")
    variant = "torch212-cxx11-cpu-x86_64-linux"
    result = cli("testshell", flake_project.root, "--variant", variant, "--max-jobs", "2")
    assert result.exit_code == 3
    develop = [c for c in fake_nix.calls if c[:1] == ["develop"]]
    assert develop == [["develop", f"{flake_project.root.resolve()}#testShells.x86_64-linux.{variant}",
                        "--max-jobs", "2"]]


# --------------------------------------------------------------------------
# Steps that run inside Nix builds.


def _compile_shared_library(tmp_path: Path, rpath: str) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = tmp_path / "answer.c"
    source.write_text("int answer(void) { return 42; }\n")
    library = tmp_path / "libanswer.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source), f"-Wl,-rpath,{rpath}",
                    "-Wl,--enable-new-dtags"], check=True)
    return library


def test_strip_runpaths(tmp_path: Path) -> None:
    import ctypes

    library = _compile_shared_library(tmp_path, "/nix/store/eeee-torch/lib:/opt/elsewhere")
    assert elf.runpaths(library) == [29]  # DT_RUNPATH
    library.chmod(0o555)  # read-only, like an installed file
    assert elf.strip_runpaths(tmp_path) == [library]
    assert elf.runpaths(library) == []
    assert stat.S_IMODE(library.stat().st_mode) == 0o555
    assert elf.strip_runpaths(tmp_path) == []  # nothing left to do
    # The library still loads and works.
    assert ctypes.CDLL(str(library)).answer() == 42
    from elftools.elf.elffile import ELFFile

    with open(library, "rb") as f:
        tags = [t.entry.d_tag for t in ELFFile(f).get_section_by_name(".dynamic").iter_tags()]
    assert "DT_RUNPATH" not in tags and "DT_SYMTAB" in tags and tags[-1] == "DT_NULL"


def test_assemble_and_check_a_variant(flake_project: Any, tmp_path: Path) -> None:
    """``assemble`` turns a CMake install tree into build/<variant>/ that passes the checks."""
    install = tmp_path / "install" / "mykernel"
    install.mkdir(parents=True)
    (install / "__init__.py").write_text("from ._ops import ops\n\ndef my_op(x):\n    return x\n\n__all__ = ['my_op']\n")
    (install / "_ops.py").write_text("import torch\nops = torch.ops._mykernel_cuda_abc1234\n")
    (install / "__pycache__").mkdir()
    (install / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    cmake_build = tmp_path / "cmake"
    cmake_build.mkdir()
    (cmake_build / "kernel-build-info.json").write_text(json.dumps(
        {"ops_name": "_mykernel_cuda_abc1234", "backend": "cuda", "archs": ["8.0", "9.0+PTX"]}))
    out = tmp_path / "out"
    nix_sandbox.assemble(flake_project.root, "cuda", install.parent, cmake_build, out)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["id"] == "_mykernel_cuda_abc1234"
    assert metadata["backend"] == {"type": "cuda", "archs": ["8.0", "9.0+PTX"]}
    assert not (out / "mykernel").exists()  # no re-export package (issue 16): it would hide a module mykernel.py
    assert not list(out.rglob("__pycache__"))
    lines: list[str] = []
    nix_sandbox.check_variant_dir(out, "torch212-cxx11-cu126-x86_64-linux", abi=False, import_check=False, log=lines.append)
    assert any(line.startswith("check-builds: OK") for line in lines)

    with pytest.raises(KernelBuilderError, match="built for backend 'cuda', expected 'cpu'"):
        nix_sandbox.assemble(flake_project.root, "cpu", install.parent, cmake_build, tmp_path / "out2")
    # A variant name that contradicts metadata.json fails the layout check.
    with pytest.raises(KernelBuilderError, match="check-builds"):
        nix_sandbox.check_variant_dir(out, "torch212-cxx11-cpu-x86_64-linux", abi=False, import_check=False,
                              log=lines.append)


def test_sandbox_entry_point_reports_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kernel_builder.build.nix_sandbox", "check", "--variant-dir", str(tmp_path),
         "--variant", "torch212-cxx11-cpu-x86_64-linux", "--no-abi"],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: check-builds:")
