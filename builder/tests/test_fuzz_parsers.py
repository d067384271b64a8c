"""Property-based fuzzing of the builder's parsers of untrusted input (issue 15).

Every generated input must give either a parsed value or one error line of
the documented type (``ConfigError`` for build.toml, ``BinaryFormatError`` for
libraries, ``ValueError`` for variant names) -- never another exception, never
a hang (each case has a deadline), never a write outside the test's temporary
directory. About 6,000 cases in all; ``FUZZ_SCALE`` (an environment variable)
multiplies them for a longer local run.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from kernel_builder.check.abi.binary import BinaryFormatError, BinaryInfo, read_binary
from kernel_builder.config import BuildConfig, load_config
from kernel_builder.errors import ConfigError, KernelBuilderError
from kernel_builder.upload.card import fill_card
from kernels.variants import parse_variant

from binary_samples import macho

# Hypothesis caches what it learns under .hypothesis/ of the working directory; keep it in a temp dir.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "kernel-builder-fuzz-hypothesis"))

SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))
#: Cases per property; the sum is reported by the test names' docstrings (about 6,000).
CASES = {"toml_values": 1500, "toml_text": 1000, "elf": 1200, "macho": 1000, "variants": 1000, "card": 300}


def fuzz_settings(name: str) -> settings:
    return settings(max_examples=CASES[name] * SCALE, deadline=timedelta(seconds=2), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                    print_blob=True)


def assert_one_line(error: Exception, prefix: str) -> None:
    text = str(error)
    assert "\n" not in text and "\r" not in text, repr(text)
    assert text.startswith(prefix), text
    assert len(text) < 2000


# --------------------------------------------------------------------------
# A sandbox: the parsers run with HOME and the caches pointed into it, and
# nothing outside the kernel project's own directory may change.


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fuzz")
    home = root / "home"
    home.mkdir()
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CACHE_HOME", "KERNEL_BUILDER_CACHE")}
    os.environ.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                      KERNEL_BUILDER_CACHE=str(home / "kb-cache"))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert list(home.iterdir()) == [], "a parser wrote into HOME or a cache"


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if not p.is_symlink()}


# --------------------------------------------------------------------------
# build.toml through the config loader (what check-config runs).

PROJECT_FILES = {
    "torch-ext/torch_binding.cpp": "// binding\n",
    "torch-ext/torch_binding.h": "#pragma once\n",
    "torch-ext/fuzzed/__init__.py": "def op(x):\n    return x\n",
    "x_cpu/x.cpp": "// cpu\n",
    "x_cuda/x.cu": "// cuda\n",
}
VALID: dict[str, Any] = {
    "general": {"name": "fuzzed", "version": 1, "edition": 5, "license": "Apache-2.0",
                "backends": ["cpu", "cuda"], "hub": {"repo-id": "org/fuzzed"}},
    "torch": {"src": ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]},
    "kernel": {
        "x_cpu": {"backend": "cpu", "depends": ["torch"], "src": ["x_cpu/x.cpp"]},
        "x": {"backend": "cuda", "depends": ["torch"], "src": ["x_cuda/x.cu"], "cuda-capabilities": ["8.0"]},
    },
}
KEYS = [
    ("general", "name"), ("general", "version"), ("general", "edition"), ("general", "license"),
    ("general", "backends"), ("general", "hub", "repo-id"), ("general", "python-depends"),
    ("general", "cuda"), ("torch", "src"), ("torch", "include"), ("torch", "stable-abi"),
    ("torch", "minver"), ("torch", "maxver"), ("kernel", "x_cpu", "src"), ("kernel", "x_cpu", "backend"),
    ("kernel", "x_cpu", "depends"), ("kernel", "x_cpu", "include"), ("kernel", "x", "cuda-capabilities"),
    ("kernel", "x", "cuda-flags"), ("kernel", "x", "cuda-minver"), ("kernel", "new"), ("torch-noarch",),
    ("tvm-ffi",), ("general",), ("kernel",), ("unknown",),
]
HOSTILE_STRINGS = st.sampled_from([
    "", "/etc/passwd", "../outside.cpp", "~/x.cpp", "x_cpu/x\0.cpp", "a" * 5000, "x_cpu/" + "b/" * 3000,
    "x_cpu", "torch-ext", "\u202e", "con", "-", "1" * 100, "org/../x",
])


def toml_values() -> st.SearchStrategy[Any]:
    scalars = (st.integers(min_value=-(10**400), max_value=10**400) | st.text(max_size=40) | HOSTILE_STRINGS
               | st.booleans() | st.floats(allow_nan=True, allow_infinity=True))
    keys = st.text(min_size=1, max_size=12) | st.sampled_from(["src", "backend", "name", "depends", "version"])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=3),
                        max_leaves=12)


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def dump(data: dict[str, Any]) -> str:
    """TOML text: each top-level table as one section of inline values."""
    lines = []
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{_toml_key(section)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{_toml_key(section)} = {_toml_value(table)}")
    return "\n".join(lines) + "\n"


def with_override(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(VALID))
    table = data
    for key in path[:-1]:
        if not isinstance(table.get(key), dict):
            table[key] = {}
        table = table[key]
    table[path[-1]] = value
    return data


@pytest.fixture(scope="module")
def kernel_project(sandbox: Path) -> Path:
    project = sandbox / "project"
    for rel, content in PROJECT_FILES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(content)
    (project / "build.toml").write_text(dump(VALID))
    assert isinstance(load_config(project), BuildConfig), "the fuzzing base must be a valid project"
    return project


def check_build_toml(project: Path, text: str) -> None:
    build_toml = project / "build.toml"
    build_toml.write_text(text, encoding="utf-8")
    before = tree(project)
    try:
        load_config(project)
    except ConfigError as e:
        assert_one_line(e, f"{build_toml}: ")
    except KernelBuilderError as e:  # pragma: no cover - must still be one line naming the file
        assert_one_line(e, f"{build_toml}")
    assert tree(project) == before, "the config loader wrote into the project"


@fuzz_settings("toml_values")
@given(path=st.sampled_from(KEYS), value=toml_values())
def test_fuzz_build_toml_values(kernel_project: Path, path: tuple[str, ...], value: Any) -> None:
    """1,500 valid-TOML documents with one key set to a random (often hostile) value."""
    check_build_toml(kernel_project, dump(with_override(path, value)))


@fuzz_settings("toml_text")
@given(position=st.integers(min_value=0, max_value=10_000), cut=st.integers(min_value=0, max_value=20),
       insert=st.text(max_size=30) | st.sampled_from(["[", "]", "{", "=", '"', "'''", "\\u0000", "\0", "\n[x]\n",
                                                      "[" * 200, "9" * 5000, "\x7f"]))
def test_fuzz_build_toml_text(kernel_project: Path, position: int, cut: int, insert: str) -> None:
    """1,000 byte-level mutations of a valid build.toml (cut some characters, insert others)."""
    text = dump(VALID)
    at = position % (len(text) + 1)
    check_build_toml(kernel_project, text[:at] + insert + text[at + cut:])


# --------------------------------------------------------------------------
# ELF and Mach-O headers through read_binary (what check-abi runs).

EXTREMES = st.sampled_from([0, 1, 7, 8, 15, 16, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                            2**63 - 1, 2**64 - 1]) | st.integers(min_value=0, max_value=2**64 - 1)


@pytest.fixture(scope="module")
def small_elf(sandbox: Path) -> bytes:
    """A small real shared library with versioned imports, compiled here (or the system's libm)."""
    source = sandbox / "small.c"
    source.write_text("#include <math.h>\n#include <string.h>\n"
                      "double f(double x) { return sin(x); }\nvoid *g(void *a, const void *b) "
                      "{ return memcpy(a, b, 8); }\n")
    output = sandbox / "small.so"
    if shutil.which("gcc"):
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(output), str(source), "-lm"], check=True)
        return output.read_bytes()
    for candidate in ("/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"):
        if os.path.isfile(candidate):
            return Path(candidate).read_bytes()
    pytest.skip("no compiler and no system library to mutate")


def _field_offsets(data: bytes) -> list[tuple[int, str]]:
    """(offset, struct format) of every header field of an ELF64 file: the places worth corrupting."""
    fields = [(16, "H"), (18, "H"), (24, "Q"), (32, "Q"), (40, "Q"), (52, "H"), (54, "H"), (56, "H"),
              (58, "H"), (60, "H"), (62, "H")]
    shoff, = struct.unpack_from("<Q", data, 40)
    shnum, = struct.unpack_from("<H", data, 60)
    for index in range(shnum):
        base = shoff + index * 64
        fields += [(base + at, fmt) for at, fmt in ((4, "I"), (24, "Q"), (32, "Q"), (40, "I"), (44, "I"), (56, "Q"))]
    return fields


def check_library(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        info = read_binary(path)
    except BinaryFormatError as e:
        assert_one_line(e, f"{path}: ")
    else:
        assert isinstance(info, BinaryInfo)


@fuzz_settings("elf")
@given(choices=st.lists(st.tuples(st.integers(min_value=0), EXTREMES), min_size=1, max_size=4),
       truncate=st.none() | st.integers(min_value=0))
def test_fuzz_elf_headers(sandbox: Path, small_elf: bytes, choices: list[tuple[int, int]],
                          truncate: int | None) -> None:
    """1,200 real libraries with header and section-table fields set to extreme values."""
    fields = _field_offsets(small_elf)
    data = bytearray(small_elf)
    for which, value in choices:
        offset, fmt = fields[which % len(fields)]
        struct.pack_into("<" + fmt, data, offset, value % (1 << (8 * struct.calcsize(fmt))))
    if truncate is not None:
        data = data[: truncate % (len(data) + 1)]
    check_library(sandbox / "fuzzed-elf.so", bytes(data))


@fuzz_settings("macho")
@given(libraries=st.lists(st.text(max_size=20), max_size=3), symbols=st.lists(st.text(min_size=1, max_size=10),
       max_size=3), patches=st.lists(st.tuples(st.integers(min_value=0), EXTREMES), max_size=4),
       fat=st.booleans(), truncate=st.none() | st.integers(min_value=0))
def test_fuzz_macho_headers(sandbox: Path, libraries: list[str], symbols: list[str],
                            patches: list[tuple[int, int]], fat: bool, truncate: int | None) -> None:
    """1,000 Mach-O bundles (thin or universal) with random 32-bit words set to extreme values."""
    data = bytearray(macho("15.0", libraries, symbols))
    if fat:
        slice_at = 4096
        header = struct.pack(">II", 0xCAFEBABE, 1) + struct.pack(">iiIII", 0x0100000C, 0, slice_at, len(data), 12)
        data = bytearray(header.ljust(slice_at, b"\0")) + data
    for which, value in patches:
        offset = (which % (len(data) // 4)) * 4
        struct.pack_into("<I", data, offset, value & 0xFFFFFFFF)
    if truncate is not None:
        data = data[: truncate % (len(data) + 1)]
    check_library(sandbox / "fuzzed-macho.so", bytes(data))


# --------------------------------------------------------------------------
# Variant names (directory names of a Hub repository's build/).

VARIANT_PARTS = st.sampled_from([
    "torch", "torch213", "torch29", "2.13", "2.9", "cxx11", "cxx98", "cu128", "cu", "rocm6.4", "rocm", "xpu",
    "cpu", "metal", "npu", "cann", "x86_64", "aarch64", "linux", "darwin", "windows", "stable", "abi", "abi3",
    "cpython", "3.13", "cp313", "tvm", "ffi", "ffi01", "0.1", "mlx", "universal", "", "-", "999999999999",
])


@fuzz_settings("variants")
@given(name=st.lists(VARIANT_PARTS, min_size=1, max_size=9).map("-".join) | st.text(max_size=60))
def test_fuzz_variant_names(name: str) -> None:
    """1,000 names from the variant vocabulary and arbitrary text: a variant that round-trips, or ValueError."""
    try:
        variant = parse_variant(name)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    assert parse_variant(variant.variant_str) == variant


# --------------------------------------------------------------------------
# Card templates and the package sources the card lists.

PYTHON_SNIPPETS = st.sampled_from([
    "__all__ = ['a', 'b']\n", "__all__ = [" * 150 + "]" * 150 + "\n", "__all__ = 1 +\n", "__all__ = ['a'] + x\n",
    "__all__ = [" + "9" * 5000 + "]\n", "def f(:\n", "\0", "class A: pass\n__all__ = ['A']\n",
    "x = (" * 300 + ")" * 300 + "\n", "__all__ = {'a': b'\\xff'}\n", "é = 1\n",
])


@fuzz_settings("card")
@given(template=st.text(max_size=200) | st.sampled_from(["{{ name }}", "{{functions}}", "{{ layers }}", "{{"]),
       init=PYTHON_SNIPPETS | st.text(max_size=200), layers=PYTHON_SNIPPETS | st.text(max_size=100))
def test_fuzz_card_template_and_sources(kernel_project: Path, template: str, init: str, layers: str) -> None:
    """300 CARD.md templates with random package sources: the card is filled, never an exception."""
    (kernel_project / "build.toml").write_text(dump(VALID))
    config = load_config(kernel_project)
    package = config.python_package_dir
    (package / "__init__.py").write_text(init, encoding="utf-8")
    (package / "layers.py").write_text(layers, encoding="utf-8")
    try:
        card = fill_card(config, template)
    finally:
        (package / "__init__.py").write_text(PROJECT_FILES["torch-ext/fuzzed/__init__.py"])
        (package / "layers.py").unlink()
    assert isinstance(card, str)
