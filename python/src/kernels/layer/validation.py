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


def _signature_mismatch(sig: inspect.Signature, ref: inspect.Signature) -> str:
    params, ref_params = list(sig.parameters.values()), list(ref.parameters.values())
    if len(params) != len(ref_params):
        return f"it has {len(params)} parameters where {len(ref_params)} are expected"
    for param, ref_param in zip(params, ref_params):
        if param.kind != ref_param.kind:
            return (f"parameter `{param.name}` is {param.kind.description} where `{ref_param.name}` is "
                    f"{ref_param.kind.description}")
    return ""


def validate_layer(layer: Any, *, replaces: type, layer_name: str, repo: Any) -> None:
    """Raise ``LayerValidationError`` naming the layer and the rule if ``layer`` cannot replace ``replaces``."""
    from torch import nn

    def fail(rule: str) -> LayerValidationError:
        return LayerValidationError(
            f"{repo} cannot replace the forward of `{replaces.__qualname__}` (kernel layer name `{layer_name}`): "
            f"{rule}"
        )

    if not isinstance(layer, type) or not issubclass(layer, nn.Module):
        raise fail(f"a kernel layer must be a subclass of torch.nn.Module, got {layer!r}")

    namespace = _own_namespace(layer, nn.Module)
    if "__init__" in namespace or layer.__init__ is not nn.Module.__init__:
        raise fail("a kernel layer must not define a constructor (`__init__`); it is stateless and uses the "
                   "state (e.g. `weight`) of the module it is installed in")

    names = [n for n in namespace if n not in _IMPLICIT_ATTRIBUTES and n != "forward"]
    methods = sorted(n for n in names if _is_method(namespace[n]) and n not in ALLOWED_CLASS_VARIABLES)
    if methods:
        raise fail(f"a kernel layer must not define methods other than `forward` (found: {', '.join(methods)})")
    variables = sorted(n for n in names if n not in ALLOWED_CLASS_VARIABLES and n not in methods)
    if variables:
        raise fail(
            "a kernel layer must not define class variables other than `has_backward` and `can_torch_compile` "
            f"(found: {', '.join(variables)}); annotate the attributes it uses instead (e.g. `weight: torch.Tensor`)"
        )

    if "forward" not in namespace:
        raise fail("a kernel layer must define `forward`")
    sig, ref = _signature(layer.forward), _signature(replaces.forward)
    mismatch = _signature_mismatch(sig, ref)
    if mismatch:
        raise fail(f"its `forward{sig}` is not compatible with `{replaces.__qualname__}.forward{ref}`: {mismatch}")
