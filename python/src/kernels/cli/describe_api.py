"""``kernels describe-api``: a kernel's public functions and layers, without running any of its code.

The builder may record them in ``symbols.json`` (schema_version 1, as
upstream's builder writes it) next to ``metadata.json``. A variant without
that file is described from its Python sources, parsed but never executed:
the public top-level functions of ``__init__.py`` (or those in its
``__all__``) and the public classes of its ``layers`` module.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Optional

from ._common import fail, local_variant_dirs, preferred_name, read_json_object

_LAYER_FLAGS = ("has_backward", "can_torch_compile")


def _checked_symbols(path: Path) -> dict[str, Any]:
    symbols = read_json_object(path)
    if symbols.get("schema_version") != 1:
        raise ValueError(f"Unsupported symbols.json schema at {path}; expected schema_version 1")
    for group in ("functions", "layers"):
        entries = symbols.get(group)
        if not isinstance(entries, list) or any(not isinstance(e, dict) or not isinstance(e.get("name"), str)
                                                for e in entries):
            raise ValueError(f"Invalid symbols.json at {path}: {group} must be a list of named symbols")
    for layer in symbols["layers"]:
        flags = layer.get("attributes")
        if not isinstance(flags, dict) or any(v is not None and not isinstance(v, bool) for v in flags.values()):
            raise ValueError(f"Invalid symbols.json at {path}: layer attributes must be booleans or null")
    return {"functions": symbols["functions"], "layers": symbols["layers"]}


def _parse(path: Path) -> Optional[ast.Module]:
    if not path.is_file():
        return None
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: cannot be parsed ({e})") from None


def _literal_all(module: ast.Module) -> Optional[list[str]]:
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                names = ast.literal_eval(node.value)
            except ValueError:
                return None
            return [n for n in names if isinstance(n, str)]
    return None


def _layer_flags(node: ast.ClassDef) -> dict[str, Optional[bool]]:
    flags: dict[str, Optional[bool]] = dict.fromkeys(_LAYER_FLAGS)
    for item in node.body:
        if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant) \
                and isinstance(item.value.value, bool):
            for target in item.targets:
                if isinstance(target, ast.Name) and target.id in flags:
                    flags[target.id] = item.value.value
    return flags


def _source_symbols(variant_dir: Path) -> dict[str, Any]:
    init = _parse(variant_dir / "__init__.py")
    if init is None:
        raise ValueError(f"{variant_dir}: not a kernel build variant (no __init__.py)")
    defined = [n.name for n in init.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    exported = _literal_all(init)
    names = [n for n in (exported if exported is not None else defined) if not n.startswith("_")]
    functions = [{"name": n} for n in names if n in defined or exported is not None and n != "layers"]
    layers_module = _parse(variant_dir / "layers.py") or _parse(variant_dir / "layers" / "__init__.py")
    layers = [] if layers_module is None else [
        {"name": n.name, "attributes": _layer_flags(n)}
        for n in layers_module.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    return {"functions": functions, "layers": layers}


def variant_symbols(variant_dir: Path) -> dict[str, Any]:
    """The public API of the variant at ``variant_dir``: from ``symbols.json``, else from its sources."""
    symbols = variant_dir / "symbols.json"
    return _checked_symbols(symbols) if symbols.is_file() else _source_symbols(variant_dir)


def _hub_variant(repo_id: str, revision: str, trust_remote_code: bool) -> tuple[Path, str]:
    from ..hub import cache_dir, check_trusted_publisher, hub_client, is_offline, locate_revision
    from ..hub.resolve import variant_files

    api = hub_client()
    offline = is_offline()
    target = locate_revision(api, repo_id, revision, offline)
    check_trusted_publisher(api, repo_id, trust_remote_code, offline)
    files = variant_files(target)
    chosen = preferred_name(sorted(files))
    if chosen is None:
        raise ValueError(f"{repo_id}@{revision} has no build variant for this environment")
    wanted = [f for f in sorted(files[chosen]) if f in ("symbols.json", "__init__.py", "layers.py", "layers/__init__.py")]
    snapshot = api.snapshot_download(repo_id, repo_type=target.repo_type, revision=target.sha or revision,
                                     allow_patterns=[f"build/{chosen}/{f}" for f in wanted], cache_dir=cache_dir())
    return Path(snapshot) / "build" / chosen, chosen


def kernel_api(kernel: str, *, revision: Optional[str] = None, version: Optional[int] = None,
               trust_remote_code: bool = False) -> dict[str, Any]:
    """The public functions and layers of ``kernel`` (a local directory or a Hub repository id)."""
    if revision is not None and version is not None:
        raise ValueError("Only one of `revision` or `version` can be specified")
    path = Path(kernel).expanduser()
    if path.is_dir():
        if revision is not None or version is not None:
            raise ValueError("`revision` and `version` cannot be used with a local path")
        dirs = local_variant_dirs(path)
        chosen = preferred_name([d.name for d in dirs]) if dirs else None
        if chosen is None:
            raise ValueError(f"{path}: no build variant for this environment")
        return {**variant_symbols(next(d for d in dirs if d.name == chosen)), "path": str(path), "variant": chosen}
    from .._versions import available_versions
    from ..hub import is_offline, validate_repo_id

    validate_repo_id(kernel)
    if revision is None and version is None:
        versions = available_versions(kernel, local_files_only=is_offline())
        if not versions:
            raise ValueError(f"No numbered versions found for {kernel}. Specify --revision explicitly.")
        version = max(versions)
    rev = revision if revision is not None else f"v{version}"
    variant_dir, chosen = _hub_variant(kernel, rev, trust_remote_code)
    return {**variant_symbols(variant_dir), "repo_id": kernel, "revision": rev, "variant": chosen}


def _print_human(info: dict[str, Any]) -> None:
    if "repo_id" in info:
        print(f"Repository: {info['repo_id']}\nRevision: {info['revision']}")
    else:
        print(f"Path: {info['path']}")
    print(f"Variant: {info['variant']}\n\nFunctions:")
    for function in info["functions"]:
        print(f"  {function['name']}")
    if not info["functions"]:
        print("  (none)")
    print("\nLayers:")
    for layer in info["layers"]:
        flags = "  ".join(f"{name}={'unknown' if layer['attributes'].get(name) is None else layer['attributes'][name]}"
                          for name in _LAYER_FLAGS)
        print(f"  {layer['name']}  {flags}")
    if not info["layers"]:
        print("  (none)")


def print_kernel_api(kernel: str, *, revision: Optional[str] = None, version: Optional[int] = None,
                     json_output: bool = False, trust_remote_code: bool = False) -> None:
    """Print what ``kernels describe-api`` prints; problems exit with status 1."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        info = kernel_api(kernel, revision=revision, version=version, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, LookupError, HfHubHTTPError) as e:
        fail(str(e))
    if json_output:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        _print_human(info)


__all__ = ["kernel_api", "print_kernel_api", "variant_symbols"]
