"""``kernels cache ls``: the kernel versions in the cache and the build variants cached for each."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

from ._common import backend_of, fail


def _version_of(ref: str) -> Optional[int]:
    from ..hub.ids import version_of_branch

    return version_of_branch(ref)


def _cached_variants(revision: Any) -> list[str]:
    build = Path(revision.snapshot_path) / "build"
    names = {Path(f.file_path).relative_to(build).parts[0] for f in revision.files
             if build in Path(f.file_path).parents}
    return sorted(n for n in names if backend_of(n) is not None)


def cached_kernels(cache_dir: Optional[Path] = None) -> tuple[Path, list[dict[str, Any]], list[str]]:
    """``(cache directory, one entry per kernel repository with cached vN branches, warnings)``."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.utils import CacheNotFound

    from ..hub.cache import cache_root

    root = Path(cache_dir or cache_root()).expanduser().resolve()
    try:
        cache = scan_cache_dir(root)
    except CacheNotFound:
        return root, [], []
    repos = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type not in ("kernel", "model"):
            continue
        versions = []
        for ref, revision in sorted(repo.refs.items()):
            number = _version_of(ref)
            if number is None:
                continue
            variants = _cached_variants(revision)
            if repo.repo_type == "model" and not variants:
                continue  # A model repository without kernel builds is not a kernel.
            versions.append({"version": number, "commit": revision.commit_hash, "size_on_disk": revision.size_on_disk,
                             "last_modified": revision.last_modified, "variants": variants})
        if versions:
            versions.sort(key=lambda v: v["version"])
            repos.append({"repo_id": repo.repo_id, "repo_type": repo.repo_type, "size_on_disk": repo.size_on_disk,
                          "last_accessed": repo.last_accessed, "last_modified": repo.last_modified,
                          "versions": versions})
    return root, repos, [str(w) for w in cache.warnings]


def print_cached_kernels(*, cache_dir: Optional[Path] = None, json_output: bool = False,
                         show_warnings: bool = False) -> None:
    """Print what ``kernels cache ls`` prints (a table, or JSON)."""
    try:
        root, repos, warnings = cached_kernels(cache_dir)
    except (OSError, ValueError) as e:
        fail(f"cannot scan the kernel cache: {e}")
    if json_output:
        print(json.dumps({"cache_dir": str(root), "repos": repos}, indent=2))
    elif not repos:
        print(f"No cached kernel versions found in {root}.")
    else:
        rows = [("ID", "SIZE", "VERSION", "COMMIT", "VARIANTS")]
        for repo in repos:
            for v in repo["versions"]:
                rows.append((f"{repo['repo_type']}/{repo['repo_id']}", _size(v["size_on_disk"]), str(v["version"]),
                             v["commit"][:7], ", ".join(v["variants"]) or "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    if warnings:
        if show_warnings:
            for warning in warnings:
                print(f"warning: {warning.rstrip('.')}; repository ignored", file=sys.stderr)
        else:
            print(f"warning: {len(warnings)} cache inconsistencies; rerun with --show-warnings to list them",
                  file=sys.stderr)


def _size(size: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


__all__ = ["cached_kernels", "print_cached_kernels"]
