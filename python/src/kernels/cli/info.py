"""``kernels info``: describe a kernel (a local build or a Hub repository) from its metadata only.

No kernel code runs: only ``metadata.json`` of one variant (the one this
machine would load, else the first) is read, so no trust is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from ._common import backend_of, fail, local_variant_dirs, preferred_name, read_json_object

#: The fields reported, in order, with the metadata.json key each comes from.
_METADATA_FIELDS = (("name", "name"), ("version", "version"), ("kernels_minver", "kernels-minver"),
                    ("license", "license"), ("upstream", "upstream"), ("source", "source"),
                    ("python_depends", "python-depends"))
_LABELS = {"name": "Name", "version": "Version", "kernels_minver": "Minimum kernels version", "license": "License",
           "upstream": "Upstream", "source": "Source"}


def _describe(metadata: dict[str, Any], variant: str, names: list[str]) -> dict[str, Any]:
    info: dict[str, Any] = {"variant": variant}
    for field, key in _METADATA_FIELDS:
        info[field] = metadata.get(key)
    if info["python_depends"] is None:
        info["python_depends"] = []
    info["backends"] = sorted({b for b in map(backend_of, names) if b is not None})
    return info


def _local_info(path: Path) -> dict[str, Any]:
    dirs = local_variant_dirs(path)
    if not dirs:
        raise ValueError(f"{path}: no build variants (no build/<variant>/ directory with a valid variant name)")
    names = [d.name for d in dirs]
    chosen = preferred_name(names) or names[0]
    metadata = read_json_object(path_of(dirs, chosen) / "metadata.json")
    return {"path": str(path), **_describe(metadata, chosen, names)}


def path_of(dirs: list[Path], name: str) -> Path:
    return next(d for d in dirs if d.name == name)


def _latest_revision(repo_id: str) -> str:
    from .._versions import available_versions
    from ..hub import is_offline

    versions = available_versions(repo_id, local_files_only=is_offline())
    return f"v{max(versions)}" if versions else "main"


def _hub_info(repo_id: str, revision: str) -> dict[str, Any]:
    from ..hub import cache_dir, hub_client, is_offline, locate_revision
    from ..hub.resolve import variant_files

    api = hub_client()
    target = locate_revision(api, repo_id, revision, is_offline(), resolve=False)
    names = sorted(n for n in variant_files(target) if backend_of(n) is not None)
    if not names:
        raise ValueError(f"{repo_id}@{revision} has no build variants")
    chosen = preferred_name(names) or names[0]
    path = api.hf_hub_download(repo_id, f"build/{chosen}/metadata.json", revision=target.sha or revision,
                               repo_type=target.repo_type, cache_dir=cache_dir())
    return {"repo_id": repo_id, "revision": revision, **_describe(read_json_object(Path(path)), chosen, names)}


def kernel_info(kernel: str, *, revision: Optional[str] = None, version: Optional[int] = None) -> dict[str, Any]:
    """The description of ``kernel`` (a local directory or a Hub repository id) as a dict."""
    if revision is not None and version is not None:
        raise ValueError("Only one of --revision or --version can be specified")
    path = Path(kernel)
    if path.is_dir():
        if revision is not None or version is not None:
            raise ValueError("--revision and --version cannot be used with a local path")
        return _local_info(path)
    from ..hub import validate_repo_id

    validate_repo_id(kernel)
    rev = revision if revision is not None else f"v{version}" if version is not None else _latest_revision(kernel)
    return _hub_info(kernel, rev)


def _print_human(info: dict[str, Any]) -> None:
    if "repo_id" in info:
        print(f"Repository: {info['repo_id']}")
        print(f"Revision: {info['revision']}")
    else:
        print(f"Path: {info['path']}")
    print(f"Variant: {info['variant']}")
    for field, label in _LABELS.items():
        print(f"{label}: {'-' if info[field] is None else info[field]}")
    print(f"Python dependencies: {', '.join(map(str, info['python_depends'])) or '-'}")
    print(f"Backends: {', '.join(info['backends'])}")


def print_kernel_info(kernel: str, *, revision: Optional[str] = None, version: Optional[int] = None,
                      json_output: bool = False) -> None:
    """Print what ``kernels info`` prints; bad arguments or an unreadable kernel exit with status 1."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        info = kernel_info(kernel, revision=revision, version=version)
    except (OSError, ValueError, LookupError, HfHubHTTPError) as e:
        fail(str(e))
    if json_output:
        print(json.dumps(info, indent=2))
    else:
        _print_human(info)


__all__ = ["kernel_info", "print_kernel_info"]
