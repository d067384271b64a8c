#!/usr/bin/env python3
"""Regenerate the ABI data files in lib/ that ``kernel-builder check-abi`` reads.

Each data file records where its facts come from (``_source``). Run this
script again when a new manylinux policy, Python release or Torch release
appears; it needs the upstream inputs listed below and prints what it wrote.

    python builder/scripts/gen_abi_data.py manylinux PATH/TO/auditwheel/policy/manylinux-policy.json
    python builder/scripts/gen_abi_data.py python PY311_TEST PY312_TEST PY313_TEST
    python builder/scripts/gen_abi_data.py torch PATH/TO/site-packages/torch/include

Inputs:

* manylinux: the policy file of ``pip install auditwheel`` (pypa/auditwheel,
  ``src/auditwheel/policy/manylinux-policy.json``). We keep, for the
  architectures kernels are built for, the highest allowed version of each
  symbol-version family and the allowed libraries, and verify that "every
  version up to the maximum" describes the policy exactly.
* python: CPython's generated ``Lib/test/test_stable_abi_ctypes.py`` of
  3.11, 3.12 and 3.13 (the exported stable-ABI symbols of each release, as
  generated from ``Misc/stable_abi.toml``; it leaves out PyModule_Create2 and
  PyModule_FromDefAndSpec2, added here by hand) plus ``_ADDED_3_3_TO_3_11`` below,
  the ``added`` versions that ``Misc/stable_abi.toml`` gives for functions and
  data added between 3.3 and 3.11 (every other symbol in the 3.11 list was
  added in 3.2; later additions follow from the differences between the lists).
* torch: the installed Torch's C shim headers (every ``AOTI_TORCH_EXPORT``
  function) plus ``_TORCH_SHIM_ADDED`` below, PyTorch's own record of the
  release that introduced each shim function after 2.9
  (``torch/csrc/stable/c/shim_function_versions.txt``; functions not listed
  there were available before 2.10). Where a header's
  ``#if TORCH_FEATURE_VERSION >= ...`` gate names a later release, the gate wins.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "lib"

# --------------------------------------------------------------------------
# manylinux

KERNEL_ARCHS = ("x86_64", "aarch64")


def _vkey(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def gen_manylinux(policy_file: str) -> None:
    data = json.loads(Path(policy_file).read_text())
    policies = {}
    for policy in data:
        if policy["name"] == "linux":
            continue
        per_arch = {}
        for arch in KERNEL_ARCHS:
            versions = policy["symbol_versions"].get(arch)
            if versions is None:
                continue
            maxima = {}
            other = {}
            for family, allowed in versions.items():
                numeric = [v for v in allowed if re.fullmatch(r"\d+(\.\d+)*", v)]
                rest = sorted(set(allowed) - set(numeric))
                maxima[family] = max(numeric, key=_vkey) if numeric else None
                if rest:
                    other[family] = rest
            per_arch[arch] = {"max": maxima}
            if other:
                per_arch[arch]["also"] = other
        policies[policy["name"]] = {
            "aliases": policy.get("aliases", []),
            "glibc": policy["name"].split("_", 1)[1].replace("_", "."),
            "symbol_versions": per_arch,
            "libraries": sorted(policy["lib_whitelist"]),
        }
    # "At most the maximum" must be exactly the policy's allowed set, given
    # every version that any policy knows.
    for arch in KERNEL_ARCHS:
        known: dict[str, set[str]] = {}
        for policy in data:
            for family, allowed in policy["symbol_versions"].get(arch, {}).items():
                known.setdefault(family, set()).update(v for v in allowed if re.fullmatch(r"\d+(\.\d+)*", v))
        for policy in data:
            sv = policy["symbol_versions"].get(arch)
            if not sv:
                continue
            for family, allowed in sv.items():
                top = policies[policy["name"]]["symbol_versions"][arch]["max"][family]
                implied = {v for v in known[family] if top is not None and _vkey(v) <= _vkey(top)}
                numeric = {v for v in allowed if re.fullmatch(r"\d+(\.\d+)*", v)}
                if implied != numeric:
                    print(f"note: {policy['name']} {arch} {family}: maximum {top} also admits "
                          f"{sorted(implied - numeric, key=_vkey)}", file=sys.stderr)
    out = {
        "_comment": "manylinux policies for kernel-builder check-abi: per policy and architecture, the highest "
                    "allowed version of each symbol-version family (GLIBC_2.28 -> family GLIBC, version 2.28; "
                    "null: no version of that family allowed) and the libraries a binary may link against. "
                    "'also' lists non-numeric versions that are allowed as well.",
        "_source": "Derived with builder/scripts/gen_abi_data.py from the manylinux policy data of pypa/auditwheel "
                   "(src/auditwheel/policy/manylinux-policy.json, auditwheel 6.8.2).",
        "policies": policies,
    }
    target = LIB / "manylinux-policies.json"
    target.write_text(_dump(out))
    print(f"wrote {target} ({len(policies)} policies)")


# --------------------------------------------------------------------------
# Python stable ABI

#: ``added`` of the functions and data that ``Misc/stable_abi.toml`` lists
#: with a version between 3.3 and 3.11 (all others in 3.11 were added in 3.2).
_ADDED_3_3_TO_3_11 = {
    "3.3": """PyState_AddModule PyState_RemoveModule PyType_FromSpecWithBases _PyArg_Parse_SizeT
        _PyArg_ParseTuple_SizeT _PyArg_ParseTupleAndKeywords_SizeT _PyArg_VaParse_SizeT
        _PyArg_VaParseTupleAndKeywords_SizeT PyThread_GetInfo""",
    "3.4": "PyCFunction_New PyType_GetSlot",
    "3.5": "PyErr_FormatV PyModuleDef_Init PyModuleDef_Type",
    "3.6": "Py_FinalizeEx PyOS_FSPath PyErr_ResourceWarning PyErr_SetImportErrorSubclass PyExc_ModuleNotFoundError",
    "3.7": """PyCodec_NameReplaceErrors PyErr_GetExcInfo PyErr_SetExcInfo PyErr_SetFromErrnoWithFilenameObjects
        PyErr_SetImportError PyErr_SyntaxLocationEx PyExc_BlockingIOError PyExc_BrokenPipeError
        PyExc_ChildProcessError PyExc_ConnectionAbortedError PyExc_ConnectionError PyExc_ConnectionRefusedError
        PyExc_ConnectionResetError PyExc_FileExistsError PyExc_FileNotFoundError PyExc_InterruptedError
        PyExc_IsADirectoryError PyExc_NotADirectoryError PyExc_PermissionError PyExc_ProcessLookupError
        PyExc_RecursionError PyExc_ResourceWarning PyExc_StopAsyncIteration PyExc_TimeoutError
        PyImport_AddModuleObject PyImport_ExecCodeModuleObject PyImport_ImportFrozenModuleObject
        PyImport_ImportModuleLevelObject PyMem_Calloc PyMemoryView_FromMemory PyModule_AddFunctions
        PyModule_ExecDef PyModule_FromDefAndSpec2 PyModule_GetNameObject PyModule_NewObject
        PyModule_SetDocString PyNumber_InPlaceMatrixMultiply PyNumber_MatrixMultiply PyObject_Calloc
        PyObject_GenericSetDict PySys_AddXOption PySys_GetXOptions PyUnicode_AsUCS4 PyUnicode_AsUCS4Copy
        PyUnicode_AsWideCharString PyUnicode_DecodeLocale PyUnicode_DecodeLocaleAndSize PyUnicode_EncodeLocale
        PyUnicode_FindChar PyUnicode_GetLength PyUnicode_ReadChar PyUnicode_Substring PyUnicode_WriteChar
        Py_DecodeLocale Py_EncodeLocale Py_SetPath PyErr_SetExcFromWindowsErr
        PyErr_SetExcFromWindowsErrWithFilename PyErr_SetExcFromWindowsErrWithFilenameObject
        PyErr_SetExcFromWindowsErrWithFilenameObjects PyErr_SetFromWindowsErr PyErr_SetFromWindowsErrWithFilename
        PyExc_WindowsError PyOS_CheckStack PyUnicode_AsMBCSString PyUnicode_DecodeCodePageStateful
        PyUnicode_DecodeMBCS PyUnicode_DecodeMBCSStateful PyUnicode_EncodeCodePage PySlice_AdjustIndices
        PySlice_Unpack PyInterpreterState_GetID PyThread_tss_alloc PyThread_tss_create PyThread_tss_delete
        PyThread_tss_free PyThread_tss_get PyThread_tss_is_created PyThread_tss_set PyOS_BeforeFork
        PyOS_AfterFork_Parent PyOS_AfterFork_Child""",
    "3.8": """PyImport_GetModule Py_UTF8Mode PyExceptionClass_Name PyIndex_Check PyIter_Check
        PyDictRevIterItem_Type PyDictRevIterKey_Type PyDictRevIterValue_Type PyInterpreterState_GetDict
        Py_BytesMain""",
    "3.9": """Py_EnterRecursiveCall Py_LeaveRecursiveCall Py_GenericAlias Py_GenericAliasType PyCMethod_New
        PyInterpreterState_Get PyObject_GC_IsFinalized PyObject_GC_IsTracked""",
    "3.10": """Py_GetArgcArgv PyIter_Send PyUnicode_AsUTF8AndSize PyObject_GenericGetDict Py_NewRef Py_XNewRef
        PyModule_AddType PyType_FromModuleAndSpec PyType_GetModule PyType_GetModuleState PyFrame_GetLineNumber
        PyFrame_GetCode PyObject_CallNoArgs PyThreadState_GetFrame PyThreadState_GetID
        PyThreadState_GetInterpreter PyModule_AddObjectRef Py_FileSystemDefaultEncodeErrors PyCodec_Unregister
        PyErr_SetInterruptEx Py_Is Py_IsTrue Py_IsFalse Py_IsNone _Py_IncRef _Py_DecRef PyAIter_Check
        PyObject_GetAIter PyExc_EncodingWarning _Py_RefTotal _Py_NegativeRefcount PyGC_Disable PyGC_Enable
        PyGC_IsEnabled""",
    "3.11": """PyExc_BaseExceptionGroup PyType_GetName PyType_GetQualName PyStructSequence_UnnamedField
        PyObject_CheckBuffer PyObject_GetBuffer PyBuffer_GetPointer PyBuffer_SizeFromFormat PyBuffer_ToContiguous
        PyBuffer_FromContiguous PyObject_CopyData PyBuffer_IsContiguous PyBuffer_FillContiguousStrides
        PyBuffer_FillInfo PyBuffer_Release PyMemoryView_FromBuffer Py_Version PyErr_GetHandledException
        PyErr_SetHandledException""",
}


#: Stable-ABI functions that CPython's generated ctypes test leaves out (they
#: are macros in Py_TRACE_REFS builds; bpo-44133), with their ``added``.
_NOT_IN_CTYPES_TEST = {"PyModule_Create2": "3.2", "PyModule_FromDefAndSpec2": "3.7"}


def _ctypes_test_symbols(path: str) -> tuple[set[str], dict[str, str]]:
    """(all symbols, symbol -> feature macro it depends on) of a test_stable_abi_ctypes.py."""
    tree = ast.parse(Path(path).read_text())
    names: set[str] = set()
    conditional: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SYMBOL_NAMES":
            names |= {e.value for e in node.value.elts}
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Subscript):
            macro = node.test.slice.value
            for stmt in node.body:
                if isinstance(stmt, ast.AugAssign) and getattr(stmt.target, "id", "") == "SYMBOL_NAMES":
                    for e in stmt.value.elts:
                        names.add(e.value)
                        conditional[e.value] = macro
    return names, conditional


def gen_python(py311: str, py312: str, py313: str) -> None:
    s311, c311 = _ctypes_test_symbols(py311)
    s312, c312 = _ctypes_test_symbols(py312)
    s313, c313 = _ctypes_test_symbols(py313)
    s311 |= set(_NOT_IN_CTYPES_TEST)
    s312 |= set(_NOT_IN_CTYPES_TEST)
    s313 |= set(_NOT_IN_CTYPES_TEST)
    assert s311 <= s312 <= s313, "stable ABI symbols are never removed"
    added: dict[str, str] = {}
    for version, names in _ADDED_3_3_TO_3_11.items():
        for name in names.split():
            if name not in s311:
                raise SystemExit(f"{name} (added {version}) is not in the 3.11 list")
            added[name] = version
    for name in s311:
        added.setdefault(name, "3.2")
    for name in s312 - s311:
        added[name] = "3.12"
    for name in s313 - s312:
        added[name] = "3.13"
    conditional = {**c311, **c312, **c313}
    symbols = {
        name: ({"added": added[name], "ifdef": conditional[name]} if name in conditional else added[name])
        for name in sorted(added)
    }
    out = {
        "_comment": "CPython stable ABI (PEP 384/652): exported functions and data -> the Python version whose "
                    "stable ABI first included them; an object value also names the feature macro the symbol "
                    "depends on (MS_WINDOWS: Windows only). Symbols not listed are not part of the stable ABI.",
        "_source": "Derived with builder/scripts/gen_abi_data.py from CPython's Misc/stable_abi.toml ('added' "
                   "versions up to 3.11) and the generated Lib/test/test_stable_abi_ctypes.py of CPython 3.11.7, "
                   "3.12.1 and 3.13.0 (symbols added in 3.12 and 3.13).",
        "covers": ["3.2", "3.13"],
        "symbols": symbols,
    }
    target = LIB / "python-stable-abi.json"
    target.write_text(_dump(out))
    counts: dict[str, int] = {}
    for v in added.values():
        counts[v] = counts.get(v, 0) + 1
    print(f"wrote {target} ({len(symbols)} symbols: {dict(sorted(counts.items(), key=lambda kv: _vkey(kv[0])))})")


# --------------------------------------------------------------------------
# Torch stable ABI

#: PyTorch's torch/csrc/stable/c/shim_function_versions.txt (functions only):
#: the release that introduced each shim function added after 2.9.
_TORCH_SHIM_ADDED = {
    "2.10": """aoti_torch_aten_full aoti_torch_aten_subtract_Tensor aoti_torch_cuda__scaled_grouped_mm
        torch_c10_cuda_check_msg torch_c10_cuda_free_error_msg torch_call_dispatcher torch_cuda_stream_synchronize
        torch_delete_list torch_delete_string torch_get_const_data_ptr torch_get_cuda_stream_from_pool
        torch_get_current_cuda_blas_handle torch_get_mutable_data_ptr torch_get_num_threads torch_get_thread_idx
        torch_library_impl torch_list_get_item torch_list_push_back torch_list_set_item torch_list_size
        torch_new_list_reserve_size torch_new_string_handle torch_parallel_for torch_parse_device_string
        torch_set_current_cuda_stream torch_set_requires_grad torch_string_c_str torch_string_length""",
    "2.11": """aoti_torch_cpu_nonzero_static aoti_torch_cuda__flash_attention_forward_quantized
        aoti_torch_cuda__scaled_dot_product_flash_attention_quantized aoti_torch_cuda_mm_dtype_out
        aoti_torch_cuda_nonzero_static aoti_torch_mps_nonzero_static aoti_torch_xpu_mm_dtype_out
        torch_dtype_float4_e2m1fn_x2 torch_dtype_float8_e8m0fnu torch_from_blob""",
    "2.12": """aoti_torch_cpu__grouped_mm aoti_torch_cpu_rand_like aoti_torch_cpu_rand_like_generator
        aoti_torch_cpu_randint_like aoti_torch_cpu_randint_like_low_dtype aoti_torch_cpu_randn_like
        aoti_torch_cpu_randn_like_generator aoti_torch_cuda__flash_attention_forward_no_dropout_inplace
        aoti_torch_cuda__flash_attention_forward_no_dropout_inplace_v2 aoti_torch_cuda__flash_attention_forward_v2
        aoti_torch_cuda__grouped_mm aoti_torch_cuda_rand_like aoti_torch_cuda_rand_like_generator
        aoti_torch_cuda_randint_like aoti_torch_cuda_randint_like_low_dtype aoti_torch_cuda_randn_like
        aoti_torch_cuda_randn_like_generator aoti_torch_dtype_float4_e2m1fn_x2 aoti_torch_dtype_float8_e8m0fnu
        aoti_torch_mps__grouped_mm aoti_torch_mps_rand_like aoti_torch_mps_rand_like_generator
        aoti_torch_mps_randint_like aoti_torch_mps_randint_like_low_dtype aoti_torch_mps_randn_like
        aoti_torch_mps_randn_like_generator aoti_torch_xpu__grouped_mm aoti_torch_xpu_rand_like
        aoti_torch_xpu_rand_like_generator aoti_torch_xpu_randint_like aoti_torch_xpu_randint_like_low_dtype
        aoti_torch_xpu_randn_like aoti_torch_xpu_randn_like_generator torch_library_def_with_tags torch_tag_core
        torch_tag_cudagraph_unsafe torch_tag_data_dependent_output torch_tag_dynamic_output_shape
        torch_tag_flexible_layout torch_tag_generated torch_tag_inplace_view torch_tag_maybe_aliasing_or_mutating
        torch_tag_needs_contiguous_strides torch_tag_needs_exact_strides torch_tag_needs_fixed_stride_order
        torch_tag_nondeterministic_bitwise torch_tag_nondeterministic_seeded torch_tag_out_variant
        torch_tag_pointwise torch_tag_pt2_compliant_tag torch_tag_reduction torch_tag_view_copy""",
    "2.13": """aoti_torch_cpu_grid_sampler_3d aoti_torch_cpu_grid_sampler_3d_backward aoti_torch_cuda_grid_sampler_3d
        aoti_torch_cuda_grid_sampler_3d_backward aoti_torch_mps__scaled_dot_product_attention_math_for_mps_v2
        aoti_torch_mps_grid_sampler_3d aoti_torch_mps_grid_sampler_3d_backward torch_delete_stable_ivalue
        torch_exception_get_what torch_exception_get_what_without_backtrace torch_library_set_python_module
        torch_new_stable_ivalue torch_stream_native_handle""",
}

_SHIM_HEADERS = (
    "torch/csrc/inductor/aoti_torch/c/shim.h",
    "torch/csrc/inductor/aoti_torch/c/shim_deprecated.h",
    "torch/csrc/inductor/aoti_torch/c/shim_cpu.h",
    "torch/csrc/inductor/aoti_torch/c/shim_mps.h",
    "torch/csrc/inductor/aoti_torch/c/shim_xpu.h",
    "torch/csrc/inductor/aoti_torch/generated/c_shim_aten.h",
    "torch/csrc/inductor/aoti_torch/generated/c_shim_cpu.h",
    "torch/csrc/inductor/aoti_torch/generated/c_shim_cuda.h",
    "torch/csrc/inductor/aoti_torch/generated/c_shim_mps.h",
    "torch/csrc/inductor/aoti_torch/generated/c_shim_xpu.h",
    "torch/csrc/stable/c/shim.h",
)
_EXPORT = re.compile(r"AOTI_TORCH_EXPORT\s+[^;{(]*?\b((?:aoti_torch|torch)_\w+)\s*\(")
_GATE = re.compile(r"#if\s+TORCH_FEATURE_VERSION\s*>=\s*TORCH_VERSION_(\d+)_(\d+)_\d+")


def _header_functions(include: Path) -> dict[str, str | None]:
    """Every exported shim function -> the version its #if gate names (None: ungated)."""
    found: dict[str, str | None] = {}
    for rel in _SHIM_HEADERS:
        path = include / rel
        if not path.is_file():
            continue
        gates: list[str | None] = []
        pending = ""
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("#if"):
                m = _GATE.match(stripped)
                gates.append(f"{m[1]}.{m[2]}" if m else None)
                continue
            if stripped.startswith("#endif"):
                if gates:
                    gates.pop()
                continue
            pending = (pending + " " + stripped) if pending else stripped
            if "AOTI_TORCH_EXPORT" not in pending:
                pending = ""
                continue
            m = _EXPORT.search(pending)
            if m:
                gate = next((g for g in reversed(gates) if g), None)
                found.setdefault(m[1], gate)
                pending = ""
            elif len(pending) > 2000:
                pending = ""
    return found


def gen_torch(include_dir: str) -> None:
    include = Path(include_dir)
    version_h = (include / "torch/headeronly/version.h").read_text()
    major = re.search(r"#define TORCH_VERSION_MAJOR (\d+)", version_h)[1]
    minor = re.search(r"#define TORCH_VERSION_MINOR (\d+)", version_h)[1]
    headers = _header_functions(include)
    added: dict[str, str] = {}
    for version, names in _TORCH_SHIM_ADDED.items():
        for name in names.split():
            added[name] = version
    for name, gate in sorted(headers.items()):
        if gate and added.get(name, "2.9") != gate:
            print(f"note: {name}: header gate {gate}, PyTorch's version list {added.get(name, '<2.10')}",
                  file=sys.stderr)
    functions = {}
    for name in sorted(set(headers) | set(added)):
        # The installed headers' own #if gate wins where it names a later release.
        versions = [added.get(name, "2.9")] + ([headers[name]] if headers.get(name) else [])
        functions[name] = max(versions, key=_vkey)
    out = {
        "_comment": "Torch stable ABI C shim functions -> the Torch release that introduced them. '2.9' means "
                    "'available before 2.10' (2.9 is the first release with the stable ABI). Undefined C++ "
                    "symbols in the c10::, at:: or torch:: namespaces (other than torch::stable::) are outside "
                    "the stable ABI.",
        "_source": f"Derived with builder/scripts/gen_abi_data.py from the C shim headers of Torch {major}.{minor} "
                   "(every AOTI_TORCH_EXPORT function) and PyTorch's "
                   "torch/csrc/stable/c/shim_function_versions.txt (introduction release of functions added "
                   "after 2.9).",
        "minimum": "2.9",
        "covers": ["2.9", f"{major}.{minor}"],
        "functions": functions,
    }
    target = LIB / "torch-stable-abi.json"
    target.write_text(_dump(out))
    print(f"wrote {target} ({len(functions)} functions, {len(headers)} from the headers)")


def _dump(data: object) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] not in ("manylinux", "python", "torch"):
        raise SystemExit(__doc__)
    {"manylinux": gen_manylinux, "python": gen_python, "torch": gen_torch}[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
