"""The options of one build or shell: built once by the CLI and handed to every stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked for with ``--variant``, ``--unique-id``, ``--max-jobs``, ``--cores``, ``-L`` and ``--local``.

    The Nix driver translates it into Nix flags, the local build into CMake and
    compiler parallelism; neither reads the command line itself.
    """

    unique_id: Optional[str] = None
    max_jobs: Optional[int] = None
    cores: Optional[int] = None
    print_build_logs: bool = False
    variant: Optional[str] = None
    local: bool = False
