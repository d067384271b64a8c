"""kernel-builder check-abi on real shared libraries compiled here with gcc.

Each library is built to break exactly one rule (or none), and the checker
must flag exactly the bad ones. Mach-O files cannot be linked here, so they
are assembled byte by byte. The fuzz tests feed random, truncated and
mutated files and require a one-line error, never a traceback.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from kernel_builder.check.abi import AbiOptions, check_library, read_binary
from kernel_builder.check.abi.binary import BinaryFormatError
from kernel_builder.check.abi.torch_abi import mangled_namespace
from binary_samples import macho

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

OPTIONS = AbiOptions().validated()  # manylinux_2_28, Python 3.9, macOS 15.0

#: Declarations instead of Python.h: the checks only see symbol names.
PY = "typedef struct _object PyObject;\n"

SOURCES: dict[str, str] = {
    # Clean: libc functions of old glibc versions and stable-ABI Python functions.
    "clean": PY + """
#include <string.h>
extern PyObject* PyLong_FromLong(long);
extern PyObject* PyModule_Create2(void*, int);
PyObject* clean(long x, char* d, const char* s, unsigned long n) { memcpy(d, s, n); return PyLong_FromLong(x); }
void* module(void* def) { return PyModule_Create2(def, 3); }
""",
    # strerrordesc_np has the symbol version GLIBC_2.32 (newer than manylinux_2_28's 2.28).
    "newglibc": """
#define _GNU_SOURCE
#include <string.h>
const char* describe(int e) { return strerrordesc_np(e); }
""",
    # PyUnicode_AsUTF8 is not part of the stable ABI (only PyUnicode_AsUTF8AndSize is).
    "nonlimited": PY + """
extern const char* PyUnicode_AsUTF8(PyObject*);
const char* text(PyObject* o) { return PyUnicode_AsUTF8(o); }
""",
    # PyUnicode_AsUTF8AndSize joined the stable ABI in Python 3.10.
    "py310": PY + """
extern const char* PyUnicode_AsUTF8AndSize(PyObject*, long*);
extern PyObject* PyLong_FromLong(long);
const char* text(PyObject* o, long* n) { PyLong_FromLong(1); return PyUnicode_AsUTF8AndSize(o, n); }
""",
}


@dataclass(frozen=True)
class Libraries:
    root: Path
    clean: Path
    newglibc: Path
    nonlimited: Path
    py310: Path
    extra: Path  # links libextra.so, which no policy allows
    torchlinked: Path  # links libc10.so and libcudart.so.12 (Torch and its CUDA runtime)
    stable_abi: Path  # Torch stable ABI: shim functions of 2.9 and 2.10, a c10:: and a torch::stable:: symbol


def gcc(*args: str, cwd: Path) -> None:
    result = subprocess.run(["gcc", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def build_shared(directory: Path, name: str, source: str, *link: str, suffix: str = ".c") -> Path:
    src = directory / f"{name}{suffix}"
    src.write_text(source)
    out = directory / f"{name}.so"
    flags = ["-x", "c++"] if suffix == ".cpp" else []
    gcc(*flags, "-shared", "-fPIC", "-O1", "-o", out.name, src.name, *link, cwd=directory)
    return out


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> Libraries:
    root = tmp_path_factory.mktemp("abi-libs")
    built = {name: build_shared(root, name, source) for name, source in SOURCES.items()}
    build_shared(root, "libextra", "int extra(void) { return 1; }\n")
    extra = build_shared(root, "extra", "int extra(void);\nint use(void) { return extra(); }\n", "-L.", "-lextra")
    # Stand-ins with the sonames of Torch's libraries: what matters is DT_NEEDED.
    build_shared(root, "libc10", "int c10_thing(void) { return 1; }\n", "-Wl,-soname,libc10.so")
    build_shared(root, "libcudart", "int cudart_thing(void) { return 1; }\n", "-Wl,-soname,libcudart.so.12")
    torchlinked = build_shared(
        root, "torchlinked", "int c10_thing(void); int cudart_thing(void);\n"
        "int use(void) { return c10_thing() + cudart_thing(); }\n", "-L.", "-l:libc10.so", "-l:libcudart.so",
    )
    stable_abi = build_shared(root, "stable_abi", """
extern "C" int aoti_torch_dtype_float32();
extern "C" int torch_get_num_threads(unsigned int*);
namespace c10 { void unstable_helper(); }
namespace torch { namespace stable { void stable_helper(); } }
int use() {
    unsigned int n; torch_get_num_threads(&n);
    c10::unstable_helper(); torch::stable::stable_helper();
    return aoti_torch_dtype_float32();
}
""", suffix=".cpp")
    return Libraries(root=root, extra=extra, torchlinked=torchlinked, stable_abi=stable_abi, **built)


def problems(path: Path, **options: str) -> list[str]:
    report = check_library(path, AbiOptions(**options).validated())
    assert report.error is None, report.error
    return [str(v) for v in report.violations]


# --------------------------------------------------------------------------
# The reader.


def test_reader_sees_versions_libraries_and_python_symbols(libs: Libraries) -> None:
    info = read_binary(libs.newglibc)
    assert info.format == "ELF" and info.kind == "shared library"
    assert info.arch == {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine(), info.arch)
    assert "libc.so.6" in info.needed
    symbol = next(s for s in info.undefined if s.name == "strerrordesc_np")
    assert (symbol.version, symbol.library) == ("GLIBC_2.32", "libc.so.6")
    assert "GLIBC_2.32" in info.required_versions["libc.so.6"]
    assert any(p.startswith("GCC:") for p in info.producers)

    python = {s.name for s in read_binary(libs.py310).undefined if s.name.startswith("Py")}
    assert python == {"PyUnicode_AsUTF8AndSize", "PyLong_FromLong"}


def test_reader_matches_readelf(libs: Libraries) -> None:
    """The versions we read are the ones binutils sees."""
    if shutil.which("readelf") is None:
        pytest.skip("needs readelf")
    text = subprocess.run(["readelf", "-V", "-W", str(libs.clean)], capture_output=True, text=True).stdout
    readelf_versions = {line.split("Name: ")[1].split()[0] for line in text.splitlines() if "Name: GLIBC" in line}
    ours = set(read_binary(libs.clean).required_versions["libc.so.6"])
    assert ours == readelf_versions


# --------------------------------------------------------------------------
# One rule each.


def test_clean_library_has_no_issues(libs: Libraries) -> None:
    report = check_library(libs.clean, OPTIONS)
    assert report.error is None and report.violations == []
    assert any("minimum Python 3.2" in n for n in report.notes)
    assert any("oldest manylinux policy they fit: manylinux_2_17" in n or "manylinux_2_5" in n
               for n in report.notes), report.notes


@pytest.mark.skipif(tuple(map(int, (platform.libc_ver()[1] or "0.0").split(".")[:2])) < (2, 32),
                    reason="strerrordesc_np needs glibc >= 2.32")
def test_newer_glibc_symbol_is_flagged_with_its_version_and_the_maximum(libs: Libraries) -> None:
    assert problems(libs.newglibc) == [
        "manylinux_2_28: strerrordesc_np: GLIBC_2.32 (should be at most GLIBC_2.28)"
    ]
    report = check_library(libs.newglibc, OPTIONS)
    assert any("oldest manylinux policy they fit: manylinux_2_34" in n for n in report.notes)
    assert any(n.startswith("note: GLIBC_2.32 comes from the toolchain") for n in report.notes)
    # A newer policy allows it; an older one names its own maximum.
    assert problems(libs.newglibc, manylinux="manylinux_2_34") == []
    assert problems(libs.newglibc, manylinux="manylinux2014") == [
        "manylinux_2_17: strerrordesc_np: GLIBC_2.32 (should be at most GLIBC_2.17)"
    ]


def test_non_stable_python_symbol_is_flagged(libs: Libraries) -> None:
    found = problems(libs.nonlimited)
    assert len(found) == 1
    assert found[0].startswith("Python ABI 3.9: PyUnicode_AsUTF8: not in the stable ABI")
    report = check_library(libs.nonlimited, OPTIONS)
    assert any("not all in the stable ABI" in n for n in report.notes)


def test_python_symbol_newer_than_target_and_minimum_python(libs: Libraries) -> None:
    assert problems(libs.py310) == [
        "Python ABI 3.9: PyUnicode_AsUTF8AndSize: in the stable ABI since Python 3.10 "
        "(should be available in Python 3.9)"
    ]
    assert problems(libs.py310, python="3.10") == []
    report = check_library(libs.py310, AbiOptions(python="3.10").validated())
    assert any("minimum Python 3.10 (newest: PyUnicode_AsUTF8AndSize)" in n for n in report.notes)


def test_library_outside_the_policy_is_flagged(libs: Libraries) -> None:
    found = problems(libs.extra)
    assert len(found) == 1 and found[0].startswith("manylinux_2_28: libextra.so: linked library")
    assert "Torch or a CUDA/ROCm/XPU library" in found[0]


def test_torch_and_its_cuda_runtime_are_allowed(libs: Libraries) -> None:
    assert set(read_binary(libs.torchlinked).needed) >= {"libc10.so", "libcudart.so.12"}
    assert problems(libs.torchlinked) == []


def test_torch_stable_abi_shims_by_version_and_unstable_cpp_symbols(libs: Libraries) -> None:
    assert problems(libs.stable_abi) == []  # not checked unless asked for
    found = problems(libs.stable_abi, torch_stable_abi="2.9")
    assert found == [
        "Torch stable ABI 2.9: _ZN3c1015unstable_helperEv: C++ symbol of c10:: "
        "(should be only stable-ABI shim functions and torch::stable:: symbols)",
        "Torch stable ABI 2.9: torch_get_num_threads: shim function added in Torch 2.10 "
        "(should be available in Torch 2.9)",
    ]
    assert [p.split(":")[1].strip() for p in problems(libs.stable_abi, torch_stable_abi="2.10")] == [
        "_ZN3c1015unstable_helperEv"
    ]


def test_mangled_namespace() -> None:
    assert mangled_namespace("_ZN3c1010TensorImplD1Ev") == ("c10", "TensorImpl")
    assert mangled_namespace("_ZNK2at6Tensor4sizeEl") == ("at", "Tensor")
    assert mangled_namespace("_ZTVN5torch8autograd4NodeE") == ("torch", "autograd")
    assert mangled_namespace("_ZN5torch6stable6detail3fooEv") == ("torch", "stable")
    assert mangled_namespace("_Z3fooi") == ("foo", "")
    assert mangled_namespace("memcpy") is None


# --------------------------------------------------------------------------
# Mach-O, assembled by hand.


def test_macho_deployment_target_libraries_and_python_abi(tmp_path: Path) -> None:
    good = tmp_path / "good.so"
    good.write_bytes(macho("15.0", ["/usr/lib/libSystem.B.dylib", "@rpath/libtorch_cpu.dylib",
                                    "/System/Library/Frameworks/Metal.framework/Versions/A/Metal"],
                           ["PyLong_FromLong", "memcpy"]))
    info = read_binary(good)
    assert (info.format, info.arch, info.kind, info.min_os) == ("Mach-O", "aarch64", "bundle", "15.0")
    assert [s.name for s in info.undefined] == ["PyLong_FromLong", "memcpy"]
    report = check_library(good, OPTIONS)
    assert report.checks == "macOS 15.0 and Python ABI version 3.9"
    assert report.violations == []

    bad = tmp_path / "bad.so"
    bad.write_bytes(macho("16.1", ["/usr/lib/libSystem.B.dylib", "/opt/homebrew/lib/libfoo.dylib"],
                          ["PyUnicode_AsUTF8"], build_version=False))
    assert [str(v) for v in check_library(bad, OPTIONS).violations] == [
        "macOS 15.0: deployment target: macOS 16.1 (should be at most macOS 15.0)",
        "macOS 15.0: /opt/homebrew/lib/libfoo.dylib: linked library "
        "(should be a macOS system library or framework, or Torch)",
        "Python ABI 3.9: PyUnicode_AsUTF8: not in the stable ABI (should be a stable-ABI (limited API) "
        "function of Python 3.9; the data covers Python 3.2 to 3.13)",
    ]
    assert check_library(bad, AbiOptions(macos="26.0").validated()).violations[0].subject == "/opt/homebrew/lib/libfoo.dylib"


# --------------------------------------------------------------------------
# The command line.


def make_kernel(root: Path, libs: Libraries, names: list[str]) -> Path:
    variant = root / "build" / "torch213-cxx11-cpu-x86_64-linux"
    variant.mkdir(parents=True)
    for name in names:
        shutil.copy(getattr(libs, name), variant / f"_{name}.abi3.so")
    return root


def verdicts(output: str) -> dict[str, str]:
    """Library file name -> "ok" or the first issue line, from check-abi's output."""
    result: dict[str, str] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("🐍 Checking for compatibility with"):
            name = Path(line.rsplit(": ", 1)[1]).name
            result[name] = "ok" if lines[i + 1].startswith("✅") else lines[i + 2].strip()
    return result


def test_cli_flags_exactly_the_bad_libraries(libs: Libraries, tmp_path: Path, cli: Callable[..., Result]) -> None:
    kernel = make_kernel(tmp_path / "k", libs, ["clean", "newglibc", "nonlimited", "extra", "torchlinked"])
    result = cli("check-abi", kernel)
    assert result.exit_code == 1, result.output
    found = verdicts(result.stdout)
    assert found.keys() == {"_clean.abi3.so", "_newglibc.abi3.so", "_nonlimited.abi3.so", "_extra.abi3.so",
                            "_torchlinked.abi3.so"}
    assert found["_clean.abi3.so"] == "ok" and found["_torchlinked.abi3.so"] == "ok"
    assert found["_newglibc.abi3.so"].startswith("manylinux_2_28: strerrordesc_np: GLIBC_2.32")
    assert found["_nonlimited.abi3.so"].startswith("Python ABI 3.9: PyUnicode_AsUTF8: not in the stable ABI")
    assert found["_extra.abi3.so"].startswith("manylinux_2_28: libextra.so: linked library")
    assert "5 libraries checked, 3 with compatibility issues" in result.stdout
    assert result.stderr == ""


def test_cli_clean_kernel_exits_zero(libs: Libraries, tmp_path: Path, cli: Callable[..., Result]) -> None:
    kernel = make_kernel(tmp_path / "k", libs, ["clean"])
    result = cli("check-abi", kernel)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "🐍 Checking for compatibility with manylinux_2_28 and Python ABI version 3.9: "
        f"{kernel / 'build' / 'torch213-cxx11-cpu-x86_64-linux' / '_clean.abi3.so'}",
        "✅ No compatibility issues found",
    ]


def test_cli_options_and_build_toml_stable_abi(libs: Libraries, tmp_path: Path, cli: Callable[..., Result]) -> None:
    kernel = make_kernel(tmp_path / "k", libs, ["stable_abi", "py310"])
    assert cli("check-abi", kernel, "-p", "3.10").exit_code == 0
    (kernel / "build.toml").write_text('[general]\nname = "k"\n\n[torch]\nstable-abi = "2.9"\n')
    result = cli("check-abi", kernel, "-p", "3.10")
    assert result.exit_code == 1
    assert "and Torch stable ABI 2.9:" in result.stdout
    assert "torch_get_num_threads: shim function added in Torch 2.10" in result.stdout
    # The option wins over build.toml.
    result = cli("check-abi", kernel, "-p", "3.10", "--torch-stable-abi", "2.10")
    assert "torch_get_num_threads" not in result.stdout and "_ZN3c1015unstable_helperEv" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["-m", "manylinux_9_99"], "--manylinux: unknown policy 'manylinux_9_99'"),
    (["-p", "2.7"], "-p/--python-abi: expected a Python 3 version"),
    (["-p", "three"], "-p/--python-abi: expected a version such as 3.9"),
    (["--torch-stable-abi", "2.8"], "the Torch stable ABI starts with Torch 2.9"),
    (["--macos", "fifteen"], "--macos: expected a version such as 15.0"),
])
def test_cli_bad_options_are_one_line_errors(args: list[str], needle: str, libs: Libraries, tmp_path: Path,
                                             cli: Callable[..., Result], expect_error: Callable[..., str]) -> None:
    kernel = make_kernel(tmp_path / "k", libs, ["clean"])
    expect_error(cli("check-abi", kernel, *args), needle)


def test_cli_every_policy_from_2_17_to_2_39_is_known(libs: Libraries, cli: Callable[..., Result]) -> None:
    for minor in (17, 24, 26, 27, 28, 31, 34, 35, 36, 37, 38, 39):
        result = cli("check-abi", libs.clean, "-m", f"manylinux_2_{minor}")
        assert result.exit_code == 0, result.output
        assert f"manylinux_2_{minor} and Python ABI" in result.stdout


def test_cli_without_build_dir_and_noarch_kernel(tmp_path: Path, cli: Callable[..., Result],
                                                 expect_error: Callable[..., str]) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "build.toml").write_text("")
    expect_error(cli("check-abi", tmp_path / "k"), "no build/ or result/ directory")
    (tmp_path / "k" / "build" / "torch-universal").mkdir(parents=True)
    result = cli("check-abi", tmp_path / "k")
    assert result.exit_code == 0 and "No native libraries found" in result.stdout
    expect_error(cli("check-abi", tmp_path / "missing"), "no such file or directory")


def test_result_symlink_is_checked_once(libs: Libraries, tmp_path: Path, cli: Callable[..., Result]) -> None:
    kernel = make_kernel(tmp_path / "k", libs, ["clean"])
    (kernel / "result").symlink_to(kernel / "build", target_is_directory=True)
    result = cli("check-abi", kernel)
    assert result.exit_code == 0 and result.stdout.count("🐍") == 1


# --------------------------------------------------------------------------
# Fuzzing: malformed input is a one-line error, never a traceback.


def fuzz_cases(libs: Libraries, directory: Path) -> list[Path]:
    rng = random.Random(4)
    original = libs.clean.read_bytes()
    cases: list[Path] = []

    def add(name: str, data: bytes) -> None:
        path = directory / name
        path.write_bytes(data)
        cases.append(path)

    add("empty.so", b"")
    add("text.so", b"not a library\n")
    add("magic-only.so", b"\x7fELF")
    add("elf-header-only.so", original[:64])
    add("macho-magic.so", b"\xcf\xfa\xed\xfe" + bytes(20))
    add("fat-magic.so", b"\xca\xfe\xba\xbe" + struct.pack(">I", 2) + bytes(8))
    for i in range(20):
        add(f"random-{i}.so", rng.randbytes(rng.randrange(1, 5000)))
        add(f"elf-random-{i}.so", b"\x7fELF" + rng.randbytes(rng.randrange(0, 5000)))
    offsets = sorted({*range(0, len(original), max(1, len(original) // 150)), 5, 16, 52, 63, 64, len(original) - 1})
    for offset in offsets:
        add(f"truncated-{offset}.so", original[:offset])
    directory_so = directory / "dir.so"
    directory_so.mkdir()
    cases.append(directory_so)
    return cases


def test_fuzz_in_process_every_bad_file_is_one_error(libs: Libraries, tmp_path: Path) -> None:
    cases = fuzz_cases(libs, tmp_path)
    assert len(cases) > 150
    for path in cases:
        report = check_library(path, OPTIONS)
        assert report.error is not None, f"{path.name} was accepted"
        assert report.error.startswith(f"{path}: ") and "\n" not in report.error, report.error
        with pytest.raises(BinaryFormatError):
            read_binary(path)


def test_fuzz_mutated_library_never_raises(libs: Libraries, tmp_path: Path) -> None:
    """Random byte flips give either a report or a one-line error, nothing else."""
    rng = random.Random(44)
    original = bytearray(libs.clean.read_bytes())
    path = tmp_path / "mutated.so"
    errors = 0
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 20)):
            position = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(len(data), 1024))
            data[position] = rng.randrange(256)
        path.write_bytes(bytes(data))
        report = check_library(path, OPTIONS)  # must not raise
        if report.error is not None:
            errors += 1
            assert "\n" not in report.error
    assert errors > 0


def test_fuzz_cli_one_line_error(libs: Libraries, tmp_path: Path, cli: Callable[..., Result],
                                 expect_error: Callable[..., str]) -> None:
    for path in fuzz_cases(libs, tmp_path)[::4]:
        expect_error(cli("check-abi", path), str(path))
    # Inside a kernel: the bad file is one error line, the good one is still checked.
    kernel = make_kernel(tmp_path / "k", libs, ["clean"])
    variant = kernel / "build" / "torch213-cxx11-cpu-x86_64-linux"
    (variant / "_broken.abi3.so").write_bytes(libs.clean.read_bytes()[:3000])
    result = cli("check-abi", kernel)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1 and "_broken.abi3.so: " in result.stderr
    assert "✅ No compatibility issues found" in result.stdout
    assert "2 libraries checked, 1 unreadable" in result.stdout


@pytest.mark.parametrize("case", ["empty.so", "random-3.so", "truncated-5000.so", "dir.so", "elf-random-7.so"])
def test_fuzz_subprocess_one_line_error(case: str, libs: Libraries, tmp_path: Path) -> None:
    paths = {p.name: p for p in fuzz_cases(libs, tmp_path)}
    path = paths.get(case) or next(p for n, p in paths.items() if n.startswith("truncated-") and n != case)
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, "-m", "kernel_builder", "check-abi", str(path)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), done.stderr
