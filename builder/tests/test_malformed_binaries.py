"""Issue 15 item 9: absurd counts in ELF and Mach-O headers are bounded by the bytes that hold them.

Each crafted file is a real library (the system's libm, or a hand-assembled
Mach-O bundle) with one count patched to an absurd value. ``kernel-builder
check-abi`` must report it as malformed in one line, quickly and without
growing memory: it runs in a subprocess with a time and address-space limit.
"""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from binary_samples import macho

MEMORY_LIMIT = 2 << 30  # bytes of address space for the checking process
TIME_LIMIT = 60  # seconds; the unbounded readers ran for ever

_LIBM_CANDIDATES = ("/usr/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/aarch64-linux-gnu/libm.so.6",
                    "/lib64/libm.so.6", "/usr/lib64/libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6")


@pytest.fixture(scope="module")
def real_elf() -> bytes:
    """A real, versioned shared library (its .gnu.version_r needs glibc versions)."""
    for candidate in _LIBM_CANDIDATES:
        if os.path.isfile(candidate):
            return Path(candidate).read_bytes()
    pytest.skip("no system libm.so.6 to patch")


def _section_header(data: bytes, name: str) -> tuple[int, bool]:
    """Offset of section ``name``'s header and whether the file is ELF64."""
    import io

    elf = ELFFile(io.BytesIO(data))
    for index, section in enumerate(elf.iter_sections()):
        if section.name == name:
            return elf["e_shoff"] + index * elf["e_shentsize"], elf.elfclass == 64
    pytest.skip(f"the library has no {name} section")


def _patch_section_field(data: bytes, name: str, field: str, value: int) -> bytes:
    header, wide = _section_header(data, name)
    # Elf64_Shdr: name I, type I, flags Q, addr Q, offset Q, size Q, link I, info I, align Q, entsize Q
    layout = {"offset": (24, "Q"), "info": (44, "I")} if wide else {"offset": (16, "I"), "info": (28, "I")}
    at, fmt = layout[field]
    patched = bytearray(data)
    struct.pack_into("<" + fmt, patched, header + at, value)
    return bytes(patched)


def _patch_first_verneed(data: bytes, at: int, fmt: str, value: int) -> bytes:
    import io

    section = ELFFile(io.BytesIO(data)).get_section_by_name(".gnu.version_r")
    patched = bytearray(data)
    struct.pack_into("<" + fmt, patched, section["sh_offset"] + at, value)
    return bytes(patched)


def _check_abi_limited(path: Path) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run([sys.executable, "-m", "kernel_builder", "check-abi", str(path)],
                          capture_output=True, text=True, timeout=TIME_LIMIT, preexec_fn=limit,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"))


def _assert_malformed_in_one_line(path: Path, *words: str) -> None:
    try:
        done = _check_abi_limited(path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"check-abi ran past {TIME_LIMIT} s on {path.name}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "MemoryError" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), done.stderr
    for word in ("malformed", *words):
        assert word in lines[0], lines[0]


def test_verneed_claiming_2_32_minus_1_entries_is_malformed(real_elf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "verneed-count.so"
    path.write_bytes(_patch_section_field(real_elf, ".gnu.version_r", "info", 2**32 - 1))
    _assert_malformed_in_one_line(path, ".gnu.version_r", "4294967295")


def test_verneed_entry_claiming_65535_versions_is_malformed(real_elf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "vernaux-count.so"
    path.write_bytes(_patch_first_verneed(real_elf, 2, "H", 0xFFFF))  # vn_cnt of the first entry
    _assert_malformed_in_one_line(path, ".gnu.version_r")


def test_verneed_links_outside_the_section_are_malformed(real_elf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "vernaux-offset.so"
    path.write_bytes(_patch_first_verneed(real_elf, 8, "I", 2**32 - 16))  # vn_aux far past the end
    _assert_malformed_in_one_line(path, ".gnu.version_r")


def test_section_header_size_zero_is_malformed(real_elf: bytes, tmp_path: Path) -> None:
    patched = bytearray(real_elf)
    struct.pack_into("<H", patched, 58, 0)  # e_shentsize of an ELF64 header
    path = tmp_path / "shentsize.so"
    path.write_bytes(bytes(patched))
    _assert_malformed_in_one_line(path, "section header size")


def test_macho_claiming_2_32_minus_1_load_commands_is_malformed(tmp_path: Path) -> None:
    data = bytearray(macho("15.0", ["/usr/lib/libSystem.B.dylib"], ["memcpy"]))
    struct.pack_into("<I", data, 16, 2**32 - 1)  # ncmds
    path = tmp_path / "ncmds.so"
    path.write_bytes(bytes(data))
    _assert_malformed_in_one_line(path, "4294967295 load commands")


def test_macho_claiming_2_32_minus_1_symbols_is_malformed(tmp_path: Path) -> None:
    data = bytearray(macho("15.0", ["/usr/lib/libSystem.B.dylib"], ["memcpy"]))
    symtab = data.find(struct.pack("<II", 0x2, 24))  # LC_SYMTAB: cmd, cmdsize, symoff, nsyms, ...
    struct.pack_into("<I", data, symtab + 12, 2**32 - 1)
    path = tmp_path / "nsyms.so"
    path.write_bytes(bytes(data))
    _assert_malformed_in_one_line(path, "symbol table")
