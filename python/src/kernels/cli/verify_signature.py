"""``kernels verify-signature REPO_ID VERSION``: check the Sigstore signature of a kernel's build variants.

Upstream ``kernels`` verifies signature bundles with the optional ``sigstore``
package. That package is not a dependency here, and verifying a bundle
needs Sigstore's trust root, so this command says so in one line instead of
pretending: without ``sigstore`` it names the package to install; with it,
it says that this ``kernels`` cannot verify bundles yet. Either way the exit
status is 1, so scripts never mistake it for a verified kernel.
"""

from __future__ import annotations

import importlib.util

from ._common import fail


def has_sigstore() -> bool:
    return importlib.util.find_spec("sigstore") is not None


def verify_signature(repo_id: str, version: int, *, all_variants: bool = False, filter_unsigned: bool = False,
                     filter_no_digest: bool = False) -> None:
    """Refuse clearly: signature verification is not available in this ``kernels``."""
    from ..hub import validate_repo_id

    validate_repo_id(repo_id)
    if not has_sigstore():
        fail('verifying signatures requires the `sigstore` package; install it with: pip install sigstore')
    fail(f"cannot verify the signature of {repo_id} version {version}: this kernels does not verify "
         "Sigstore bundles yet (nothing was checked)")


__all__ = ["has_sigstore", "verify_signature"]
