"""Read (and strip the runpaths of) ELF libraries with pyelftools: the one ELF reader.

pyelftools gives us the headers, the section table, the dynamic tags and the
version-needed records. The two large per-symbol tables (``.dynsym`` and
``.gnu.version``) are decoded in bulk with :mod:`struct` from the section
bounds pyelftools reports, which keeps a check of a several-hundred-megabyte
library well under a second.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path
from typing import BinaryIO, Optional

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from .binary import BinaryFormatError, BinaryInfo, UndefinedSymbol

_ARCHS = {
    "EM_X86_64": "x86_64",
    "EM_AARCH64": "aarch64",
    "EM_386": "i686",
    "EM_ARM": "armv7l",
    "EM_PPC64": "ppc64le",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
}
_KINDS = {"ET_DYN": "shared library", "ET_EXEC": "executable"}
_STB_WEAK = 2
_SHN_UNDEF = 0


def read_elf(path: Path) -> BinaryInfo:
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        return _read(stream, Path(path), size)


def _read(stream: BinaryIO, path: Path, size: int) -> BinaryInfo:
    elf = ELFFile(stream)
    e_type = _check_headers(elf, path, size)
    sections = list(elf.iter_sections())
    dynsym = next((s for s in sections if s["sh_type"] == "SHT_DYNSYM"), None)
    versym = next((s for s in sections if s["sh_type"] == "SHT_GNU_versym"), None)
    verneed = next((s for s in sections if isinstance(s, GNUVerNeedSection)), None)
    dynamic = next((s for s in sections if isinstance(s, DynamicSection)), None)
    comment = next((s for s in sections if s.name == ".comment"), None)

    needed = _needed_libraries(path, dynamic, size)
    version_names, required = _needed_versions(path, elf, stream, verneed, size)
    undefined: list[UndefinedSymbol] = []
    defined = 0
    if dynsym is not None:
        undefined, defined = _dynamic_symbols(elf, path, stream, size, dynsym, versym, version_names)
    machine = elf["e_machine"]
    return BinaryInfo(
        path=path,
        format="ELF",
        arch=_ARCHS.get(machine, f"unknown ({machine})"),
        kind=_KINDS[e_type],
        needed=needed,
        undefined=tuple(undefined),
        required_versions={lib: tuple(v) for lib, v in required.items()},
        producers=_producers(path, stream, comment, size),
        defined_symbols=defined,
    )


def _check_headers(elf: ELFFile, path: Path, size: int) -> str:
    """The file's ``e_type``, once it is known to be a library with intact section headers."""
    e_type = elf["e_type"]
    if e_type not in _KINDS:
        what = {"ET_REL": "a relocatable object (.o), not a shared library", "ET_CORE": "a core dump"}
        raise BinaryFormatError(path, f"ELF file is {what.get(e_type, f'of type {e_type}')}")
    if elf["e_shoff"] == 0 or elf.num_sections() == 0:
        raise BinaryFormatError(path, "ELF file has no section headers; cannot find its dynamic symbols")
    entry_size = 64 if elf.elfclass == 64 else 40
    if elf["e_shentsize"] != entry_size:
        raise BinaryFormatError(path, f"malformed ELF file: section header size {elf['e_shentsize']} "
                                      f"(ELF{elf.elfclass} uses {entry_size})")
    end = elf["e_shoff"] + elf.num_sections() * elf["e_shentsize"]
    if end > size:
        raise BinaryFormatError(path, f"truncated ELF file: section headers end at byte {end}, file has {size}")
    return e_type


def _needed_libraries(path: Path, dynamic, size: int) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    needed: list[str] = []
    if dynamic is not None:
        _check_bounds(path, dynamic, size)
        for tag in dynamic.iter_tags():
            if tag.entry.d_tag == "DT_NEEDED":
                needed.append(tag.needed)
            elif tag.entry.d_tag == "DT_NULL":
                break
    return tuple(needed)


def _needed_versions(path: Path, elf: ELFFile, stream: BinaryIO, verneed, size: int):  # type: ignore[no-untyped-def]
    """Version index -> (library, version name), and library -> versions, from .gnu.version_r.

    Decoded here rather than by pyelftools, which trusts the section's entry
    count: a count of 2**32-1 made it loop over one record with growing memory.
    Every count and link is bounded by the section's size.
    """
    version_names: dict[int, tuple[str, str]] = {}
    required: dict[str, list[str]] = {}
    if verneed is None:
        return version_names, required
    raw = _section_bytes(path, stream, verneed, size)
    strings = _section_bytes(path, stream, _linked_section(path, elf, verneed), size)
    endian = "<" if elf.little_endian else ">"
    claimed = verneed["sh_info"]
    if claimed > len(raw) // _VERNEED_SIZE:
        raise BinaryFormatError(path, f"malformed ELF file: .gnu.version_r claims {claimed} entries, "
                                      f"its {len(raw)} bytes hold at most {len(raw) // _VERNEED_SIZE}")
    budget = len(raw) // _VERNEED_SIZE  # records (needs + auxiliaries) the section can hold
    offset = 0
    for index in range(claimed):
        _, aux_count, file_at, aux_at, next_at = _record(path, raw, offset, endian + "HHIII", index)
        budget -= 1 + aux_count
        if budget < 0:
            raise BinaryFormatError(path, f"malformed ELF file: .gnu.version_r entry {index} claims "
                                          f"{aux_count} versions, more than the section holds")
        library = _string(path, strings, file_at)
        where = offset + aux_at
        for _ in range(aux_count):
            _, _, other, name_at, aux_next = _record(path, raw, where, endian + "IHHII", index)
            version = _string(path, strings, name_at)
            version_names[other] = (library, version)
            required.setdefault(library, []).append(version)
            where += aux_next
        if next_at == 0:
            break
        offset += next_at
    return version_names, required


_VERNEED_SIZE = 16  # Elf32/64_Verneed and _Vernaux are both 16 bytes


def _record(path: Path, raw: bytes, offset: int, fmt: str, index: int) -> tuple[int, ...]:
    if not 0 <= offset <= len(raw) - _VERNEED_SIZE:
        raise BinaryFormatError(path, f"malformed ELF file: .gnu.version_r entry {index} points outside the section")
    return struct.unpack_from(fmt, raw, offset)


def _string(path: Path, strings: bytes, offset: int) -> str:
    if offset >= len(strings):
        raise BinaryFormatError(path, "malformed ELF file: a version name lies outside its string table")
    stop = strings.find(b"\0", offset)
    return strings[offset: stop if stop >= 0 else len(strings)].decode("utf-8", "replace")


def _linked_section(path: Path, elf: ELFFile, section):  # type: ignore[no-untyped-def]
    link = section["sh_link"]
    if not 0 < link < elf.num_sections():
        raise BinaryFormatError(path, f"malformed ELF file: section {section.name or '?'} links to section {link}")
    return elf.get_section(link)


def _dynamic_symbols(elf: ELFFile, path: Path, stream: BinaryIO, size: int, dynsym, versym,  # type: ignore[no-untyped-def]
                     version_names: dict[int, tuple[str, str]]) -> tuple[list[UndefinedSymbol], int]:
    """The undefined dynamic symbols (with their versions) and the number of defined ones."""
    strtab = _linked_section(path, elf, dynsym)
    raw = _section_bytes(path, stream, dynsym, size)
    names = _section_bytes(path, stream, strtab, size)
    if elf.elfclass == 64:
        fmt, entsize, info_at, shndx_at = "IBBHQQ", 24, 1, 3
    else:
        fmt, entsize, info_at, shndx_at = "IIIBBH", 16, 3, 5
    endian = "<" if elf.little_endian else ">"
    count = len(raw) // entsize
    versions: tuple[int, ...] = ()
    if versym is not None:
        vraw = _section_bytes(path, stream, versym, size)
        versions = struct.unpack(f"{endian}{len(vraw) // 2}H", vraw[: len(vraw) // 2 * 2])
    undefined: list[UndefinedSymbol] = []
    defined = 0
    for index, entry in enumerate(struct.iter_unpack(endian + fmt, raw[: count * entsize])):
        if index == 0:
            continue
        if entry[shndx_at] != _SHN_UNDEF:
            defined += 1
            continue
        offset = entry[0]
        if offset == 0:
            continue
        if offset >= len(names):
            raise BinaryFormatError(path, f"malformed ELF file: symbol {index} has a name outside .dynstr")
        stop = names.find(b"\0", offset)
        name = names[offset: stop if stop >= 0 else len(names)].decode("utf-8", "replace")
        library = version = None
        if index < len(versions):
            found = version_names.get(versions[index] & 0x7FFF)
            if found is not None:
                library, version = found
        weak = (entry[info_at] >> 4) == _STB_WEAK
        undefined.append(UndefinedSymbol(name=name, version=version, library=library, weak=weak))
    return undefined, defined


def _producers(path: Path, stream: BinaryIO, comment, size: int) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """The distinct compiler identification lines of the .comment section."""
    if comment is None or comment["sh_type"] == "SHT_NOBITS" or comment["sh_size"] >= 1 << 20:
        return ()
    text = _section_bytes(path, stream, comment, size)
    seen: list[str] = []
    for part in text.split(b"\0"):
        line = part.decode("utf-8", "replace").strip()
        if line and line not in seen:
            seen.append(line)
    return tuple(seen)


def _check_bounds(path: Path, section, size: int) -> None:  # type: ignore[no-untyped-def]
    if section["sh_type"] == "SHT_NOBITS":
        return
    end = section["sh_offset"] + section["sh_size"]
    if end > size:
        raise BinaryFormatError(
            path, f"truncated ELF file: section {section.name or '?'} ends at byte {end}, file has {size}"
        )


def _section_bytes(path: Path, stream: BinaryIO, section, size: int) -> bytes:  # type: ignore[no-untyped-def]
    _check_bounds(path, section, size)
    if section["sh_type"] == "SHT_NOBITS":
        return b""
    stream.seek(section["sh_offset"])
    data = stream.read(section["sh_size"])
    if len(data) != section["sh_size"]:
        raise BinaryFormatError(path, f"truncated ELF file: section {section.name or '?'} is incomplete")
    return data


# --------------------------------------------------------------------------
# Runpaths: Nix builds strip DT_RPATH/DT_RUNPATH so that a kernel finds its
# libraries through Torch, never through build-machine paths.

_DT_NULL, _DT_RPATH, _DT_RUNPATH = 0, 15, 29
_ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == _ELF_MAGIC


def elf_files(root: Path) -> list[Path]:
    """The ELF files under ``root`` (symlinks not followed), sorted."""
    return [path for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink() and is_elf(path)]


def _dynamic_table(path: Path) -> Optional[tuple[int, int, str]]:
    """``(offset, size, struct format)`` of the dynamic table of an ELF file, if any."""
    if not is_elf(path):
        return None
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_DYNAMIC":
                    order = "<" if elf.little_endian else ">"
                    entry = "qQ" if elf.elfclass == 64 else "iI"
                    return segment["p_offset"], segment["p_filesz"], order + entry
        except ELFError:
            return None
    return None


def _dynamic_entries(path: Path) -> Optional[tuple[int, str, list[tuple[int, int]]]]:
    table = _dynamic_table(path)
    if table is None:
        return None
    offset, size, fmt = table
    width = struct.calcsize(fmt)
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    entries = [struct.unpack_from(fmt, data, i) for i in range(0, len(data) - width + 1, width)]
    return offset, fmt, entries


def runpaths(path: Path) -> list[int]:
    """The DT_RPATH/DT_RUNPATH tags an ELF file still has."""
    found = _dynamic_entries(path)
    if found is None:
        return []
    tags = []
    for tag, _ in found[2]:
        if tag == _DT_NULL:
            break
        if tag in (_DT_RPATH, _DT_RUNPATH):
            tags.append(tag)
    return tags


def strip_runpath(path: Path) -> bool:
    """Remove DT_RPATH/DT_RUNPATH from an ELF file; True if there were any.

    The remaining dynamic entries move up and the freed slots become DT_NULL,
    which is what the dynamic loader expects at the end of the table.
    """
    found = _dynamic_entries(path)
    if found is None:
        return False
    offset, fmt, entries = found
    kept = []
    removed = False
    for tag, value in entries:
        if tag == _DT_NULL:
            break
        if tag in (_DT_RPATH, _DT_RUNPATH):
            removed = True
            continue
        kept.append((tag, value))
    if not removed:
        return False
    kept += [(_DT_NULL, 0)] * (len(entries) - len(kept))
    data = b"".join(struct.pack(fmt, tag, value) for tag, value in kept)
    mode = path.stat().st_mode
    if not mode & stat.S_IWUSR:
        path.chmod(mode | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
    if not mode & stat.S_IWUSR:
        path.chmod(mode)
    return True


def strip_runpaths(root: Path) -> list[Path]:
    """Strip the runpaths of every ELF file under ``root``; the files changed."""
    return [path for path in elf_files(root) if strip_runpath(path)]
