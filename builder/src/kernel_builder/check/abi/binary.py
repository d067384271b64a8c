"""What the checks need to know about a native library, whatever its format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ...errors import KernelBuilderError


class BinaryFormatError(KernelBuilderError):
    """A file that cannot be read as a native library: reported as one line."""

    def __init__(self, path: Path | str, reason: str):
        reason = " ".join(str(reason).split())  # one line, whatever the parser said
        if len(reason) > 300:
            reason = reason[:297] + "..."
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class UndefinedSymbol:
    """A symbol the library imports from another library."""

    name: str
    #: The symbol version it requires (``GLIBC_2.32``), ``None`` when unversioned.
    version: Optional[str] = None
    #: The library the version belongs to (``libc.so.6``), when known.
    library: Optional[str] = None
    weak: bool = False

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


@dataclass
class BinaryInfo:
    path: Path
    format: str  # "ELF" or "Mach-O"
    arch: str  # x86_64, aarch64, ... (``unknown (<code>)`` otherwise)
    kind: str  # "shared library", "executable", "bundle", ...
    needed: tuple[str, ...] = ()
    undefined: tuple[UndefinedSymbol, ...] = ()
    #: ELF: library -> symbol versions it must provide (``.gnu.version_r``).
    required_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Mach-O: the minimum macOS version (``LC_BUILD_VERSION`` / ``LC_VERSION_MIN_MACOSX``).
    min_os: Optional[str] = None
    #: The compilers that produced the file, as far as it records them (ELF ``.comment``).
    producers: tuple[str, ...] = ()
    defined_symbols: int = 0


ELF_MAGIC = b"\x7fELF"
MACHO_MAGICS = (
    b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe",  # 32-bit, big/little endian
    b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe",  # 64-bit
    b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf",  # universal (fat)
)


def read_binary(path: Path) -> BinaryInfo:
    """Read ``path`` as an ELF or Mach-O library; :class:`BinaryFormatError` otherwise.

    Any problem, including a parser failure on malformed input, is reported as
    a :class:`BinaryFormatError` naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise BinaryFormatError(path, "is a directory, not a library file")
    if not path.exists():
        raise BinaryFormatError(path, "does not exist" + (" (dangling symlink)" if path.is_symlink() else ""))
    if not path.is_file():
        raise BinaryFormatError(path, "is not a regular file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise BinaryFormatError(path, f"cannot read ({e.strerror})") from None
    if len(magic) < 4:
        raise BinaryFormatError(path, f"not an ELF or Mach-O file (only {len(magic)} bytes)")
    if magic == ELF_MAGIC:
        from .elf import read_elf

        reader = read_elf
        what = "ELF"
    elif magic in MACHO_MAGICS:
        from .macho import read_macho

        reader = read_macho
        what = "Mach-O"
    else:
        raise BinaryFormatError(path, f"not an ELF or Mach-O file (starts with {magic!r})")
    try:
        return reader(path)
    except BinaryFormatError:
        raise
    except OSError as e:
        raise BinaryFormatError(path, f"cannot read ({e.strerror or e})") from None
    except MemoryError:
        raise BinaryFormatError(path, f"malformed {what} file (a size field is implausibly large)") from None
    except Exception as e:  # any parser failure on malformed input is the file's fault
        detail = str(e) or type(e).__name__
        raise BinaryFormatError(path, f"malformed or truncated {what} file ({detail})") from None


@dataclass(frozen=True)
class Violation:
    """One compatibility problem: what (``subject``), what it has and what is allowed."""

    check: str  # the rule that is violated, e.g. "manylinux_2_28"
    subject: str  # a symbol or library name
    found: str  # e.g. "GLIBC_2.32"
    expected: str  # e.g. "at most GLIBC_2.28"

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.found} (should be {self.expected})"
