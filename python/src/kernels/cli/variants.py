"""``kernels variants``: every build variant of a Hub kernel and whether this machine can load it."""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from ._common import fail


def _revisions(repo_id: str, all_versions: bool, version: Union[int, str, None],
               revision: Optional[str]) -> list[tuple[Optional[int], str]]:
    from .._versions import available_versions
    from ..hub import is_offline

    if revision is not None:
        return [(None, revision)]
    versions = available_versions(repo_id, local_files_only=is_offline())
    if version is not None and version != "latest":
        if version not in versions:
            listed = ", ".join(str(v) for v in sorted(versions)) or "none"
            raise ValueError(f"Version {version} not found, available versions: {listed}")
        return [(int(version), f"v{version}")]
    if not versions:
        raise ValueError(f"Repository does not support kernel versions (no vN branches): {repo_id}")
    chosen = sorted(versions) if all_versions else [max(versions)]
    return [(v, f"v{v}") for v in chosen]


def kernel_variants(repo_id: str, *, all_versions: bool = False, only_compatible: bool = False,
                    version: Union[int, str, None] = None, revision: Optional[str] = None,
                    backend: Optional[str] = None) -> list[dict[str, Any]]:
    """Per selected version (or revision): its variants, compatible first, with the decisions."""
    from ..hub import get_kernel_variants
    from ..selection import VariantAccepted

    if sum((all_versions, version is not None, revision is not None)) > 1:
        raise ValueError("Only one of `all_versions`, `version`, or `revision` can be specified")
    results = []
    for number, ref in _revisions(repo_id, all_versions, version, revision):
        decisions = get_kernel_variants(repo_id, revision=ref, backend=backend)
        preferred = next((d.variant for d in decisions if isinstance(d, VariantAccepted)), None)
        if only_compatible:
            decisions = [d for d in decisions if isinstance(d, VariantAccepted)]
        results.append({"version": number, "revision": ref, "variants": [
            {"variant": str(d.variant), "compatible": isinstance(d, VariantAccepted),
             "preferred": d.variant == preferred, "reason": getattr(d, "reason", None)} for d in decisions]})
    return results


def _print_human(results: list[dict[str, Any]], only_compatible: bool) -> None:
    for entry in results:
        label = f"Version {entry['version']}" if entry["version"] is not None else f"Revision {entry['revision']}"
        print(f"{label}:\n")
        if not entry["variants"]:
            print("No compatible variants found." if only_compatible else "No build variants found.")
        for item in entry["variants"]:
            if item["compatible"]:
                print(f"✅ {item['variant']}{' (preferred)' if item['preferred'] else ''}")
            else:
                print(f"❌ {item['variant']}: {item['reason']}")


def print_kernel_variants(repo_id: str, *, all_versions: bool = False, only_compatible: bool = False,
                          version: Union[int, str, None] = None, revision: Optional[str] = None,
                          json_output: bool = False, backend: Optional[str] = None) -> None:
    """Print what ``kernels variants`` prints; a bad argument or a missing version exits with status 1."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        results = kernel_variants(repo_id, all_versions=all_versions, only_compatible=only_compatible,
                                  version=version, revision=revision, backend=backend)
    except (OSError, ValueError, LookupError, HfHubHTTPError) as e:
        fail(str(e))
    if json_output:
        print(json.dumps({"repo_id": repo_id, "revisions": results}, indent=2))
    else:
        _print_human(results, only_compatible)


__all__ = ["kernel_variants", "print_kernel_variants"]
