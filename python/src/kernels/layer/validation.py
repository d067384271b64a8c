"""Checks that a Hub layer may replace the ``forward`` of a model layer.

A Hub layer must be a stateless ``nn.Module`` subclass: no constructor, no
class variables except ``has_backward`` and ``can_torch_compile``, no methods
except ``forward``, and a ``forward`` whose parameters match (in number and
kind) the ``forward`` of the layer it replaces.
"""

from __future__ import annotations

import inspect
from typing import Any

ALLOWED_CLASS_VARIABLES = ("has_backward", "can_torch_compile")

# Attributes Python itself puts in class namespaces.
_IMPLICIT_ATTRIBUTES = frozenset({
    "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__",
    "__firstlineno__", "__static_attributes__", "__orig_bases__", "__parameters__", "__annotate__",
    "__annotate_func__", "__annotations_cache__", "__classcell__", "__classdictcell__",
})


class LayerValidationError(TypeError):
    """A Hub layer that breaks one of the rules for kernel layers."""


def _is_method(value: Any) -> bool:
    if isinstance(value, (staticmethod, classmethod, property)):
        return True
    return callable(value) and not isinstance(value, type)


def _own_namespace(cls: type, base: type) -> dict[str, Any]:
    """Names defined by ``cls`` and its bases that are not part of ``base`` (first definition wins)."""
    skip = set(base.__mro__)
    namespace: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass in skip:
            continue
        for name, value in vars(klass).items():
            namespace.setdefault(name, value)
    return namespace


def _signature(func: Any) -> inspect.Signature:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])


def _signature_mismatch(sig: inspect.Signature, ref: inspect.Signature) -> tuple[str, str]:
    """``(upstream's wording, ours)`` of how ``sig`` differs from ``ref``; empty strings if compatible."""
    params, ref_params = list(sig.parameters.values()), list(ref.parameters.values())
    if len(params) != len(ref_params):
        return ("different number of arguments",
                f"it has {len(params)} parameters where {len(ref_params)} are expected")
    for param, ref_param in zip(params, ref_params):
        if param.kind != ref_param.kind:
            return ("different kind of arguments",
                    f"parameter `{param.name}` is {param.kind.description} where `{ref_param.name}` is "
                    f"{ref_param.kind.description}")
    return "", ""


def _describe(repo: Any, layer: Any) -> tuple[str, str]:
    """``(what, where)``: e.g. ``layer `SiluAndMul``` and ```org/kernel` (revision main), layer `SiluAndMul```."""
    name = getattr(repo, "_name", None)
    if not isinstance(name, str):
        name = getattr(repo, "layer_name", None) or getattr(layer, "__name__", repr(layer))
    what = f"{getattr(repo, '_kind', 'layer')} `{name}`"
    source = getattr(repo, "_source", None)
    return what, (f"{source()}, {what}" if callable(source) else str(repo))


def validate_layer(layer: Any, *, replaces: type, layer_name: str, repo: Any) -> None:
    """Raise ``LayerValidationError`` naming the layer and the rule if ``layer`` cannot replace ``replaces``.

    Messages lead with upstream's wording (``must not override nn.Module
    constructor``, ``must not contain additional members compared to``,
    ``Forward signature of ... does not match ...``), which clients match on,
    and go on to say which rule was broken and how.
    """
    from torch import nn

    what, where = _describe(repo, layer)
    target = replaces.__name__

    def fail(rule: str, headline: str = "") -> LayerValidationError:
        text = (f"{repo} cannot replace the forward of `{replaces.__qualname__}` (kernel layer name "
                f"`{layer_name}`): {rule}")
        return LayerValidationError(f"{headline} ({text})" if headline else text)

    if not isinstance(layer, type) or not issubclass(layer, nn.Module):
        raise fail(f"{what} is not a Torch layer: a kernel layer must be a subclass of torch.nn.Module, "
                   f"got {layer!r}")

    namespace = _own_namespace(layer, nn.Module)
    if "__init__" in namespace or layer.__init__ is not nn.Module.__init__:
        raise fail(f"{what} must not override nn.Module constructor: a kernel layer must not define a "
                   "constructor (`__init__`); it is stateless and uses the state (e.g. `weight`) of the module "
                   "it is installed in")

    extra = f"{what} must not contain additional members compared to `{target}`"
    names = [n for n in namespace if n not in _IMPLICIT_ATTRIBUTES and n != "forward"]
    methods = sorted(n for n in names if _is_method(namespace[n]) and n not in ALLOWED_CLASS_VARIABLES)
    if methods:
        raise fail(f"{extra}: a kernel layer must not define methods other than `forward` "
                   f"(found: {', '.join(methods)})")
    variables = sorted(n for n in names if n not in ALLOWED_CLASS_VARIABLES and n not in methods)
    if variables:
        raise fail(
            f"{extra}: a kernel layer must not define class variables other than `has_backward` and "
            f"`can_torch_compile` (found: {', '.join(variables)}); annotate the attributes it uses instead "
            "(e.g. `weight: torch.Tensor`)"
        )

    if "forward" not in namespace:
        raise fail("a kernel layer must define `forward`")
    sig, ref = _signature(layer.forward), _signature(replaces.forward)
    upstream_words, mismatch = _signature_mismatch(sig, ref)
    if mismatch:
        raise fail(
            f"its `forward{sig}` is not compatible with `{replaces.__qualname__}.forward{ref}`: {mismatch}",
            headline=f"Forward signature of {where} does not match `{target}`: {upstream_words}",
        )
