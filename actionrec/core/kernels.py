"""Numeric kernels and thread counts pinned, so that CPU training gives the same bits on any
x86-64 machine with AVX2 or better.

The kernels that numpy/scipy (OpenBLAS, numpy's own SIMD ufuncs), scikit-learn and torch (ATen,
oneDNN, MKL) pick at start-up depend on the CPU: on an AVX-512 machine LogisticRegression,
GradientBoosting (numpy's ``exp``), LSTM and Conv2d give other bits than on an AVX2-only one, and
the thread count changes the order of reductions. The choice
is read from environment variables when the libraries load, so :func:`pin` must run before numpy
or torch is imported: every stage does it in ``stages/__init__.py`` (``python -m stages.X``
imports that package first). ``ACTIONREC_NATIVE_KERNELS=1`` keeps each machine's fastest kernels
and all its cores instead (results then differ between machines). :func:`fingerprint` is what a
run records of all this; ``actionrec reproduce`` compares exactly only when the fingerprints agree.

No numpy/torch import at module level: this module must be importable before them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import sys
import warnings
from importlib import metadata

NATIVE_SWITCH = "ACTIONREC_NATIVE_KERNELS"
# numpy's dispatched AVX-512 ufunc loops off (exp, log, ...: other bits than the AVX2 loops); the
# names are numpy 1.26's x86 dispatch targets (disabling one the CPU lacks is a no-op there, while
# numpy warns about x86 names on other architectures, hence x86-64 only).
NUMPY_AVX512_OFF = (
    {"NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"}
    if platform.machine().lower() in {"x86_64", "amd64"}
    else {}
)
THREADS = 2  # fixed intra-op/BLAS thread count: the same reduction order on every machine
PINNED = {
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's OpenBLAS: the AVX2 kernels
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # torch's oneDNN (LSTM, Conv2d)
    "MKL_CBWR": "AVX2",  # torch's MKL (matmul): conditional numerical reproducibility, AVX2 branch
    **NUMPY_AVX512_OFF,
    "OMP_NUM_THREADS": str(THREADS),
    "OPENBLAS_NUM_THREADS": str(THREADS),
    "MKL_NUM_THREADS": str(THREADS),
}
LIBRARIES = ("numpy", "scipy", "scikit-learn", "torch")
_LOADED = ("numpy", "torch", "scipy", "sklearn")


def native_requested(env: dict[str, str] | os._Environ = os.environ) -> bool:
    """Whether ``ACTIONREC_NATIVE_KERNELS`` asks for each machine's own kernels and threads."""
    return env.get(NATIVE_SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def pin() -> bool:
    """Set the pinned variables in this process (and its children); returns whether it pinned.

    Warns when numpy, scipy, scikit-learn or torch is already loaded with other settings: their
    kernels are chosen by then (this process keeps them; only child processes are pinned)."""
    if native_requested():
        return False
    loaded = [name for name in _LOADED if name in sys.modules]
    if loaded and any(os.environ.get(k) != v for k, v in PINNED.items()):
        warnings.warn(
            f"actionrec.core.kernels.pin() after {', '.join(loaded)} was imported: this process keeps "
            "the kernels chosen at import (pin before importing them)",
            RuntimeWarning,
            stacklevel=2,
        )
    os.environ.update(PINNED)
    return True


def _cpu_isa() -> str:
    """The widest x86 vector extension this CPU has (avx512 / avx2 / avx / sse), else the machine."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return platform.machine()
    for isa, flag in (("avx512", "avx512f"), ("avx2", "avx2"), ("avx", "avx")):
        if flag in flags:
            return isa
    return "sse" if flags else platform.machine()


def _numpy_simd() -> str:
    """The SIMD targets numpy (1.26, the lock's) dispatches its ufunc loops to in this process."""
    umath = importlib.import_module("numpy.core._multiarray_umath")
    return ",".join(f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f))


def fingerprint(device: str = "cpu") -> dict[str, str]:
    """What decides a run's bits: ``kernels.*`` tags (kernels and threads in use, library
    versions, device) and ``kernels.fingerprint``, an md5 of all the others but ``kernels.cpu``
    (the machine's own ISA, which pinning makes irrelevant)."""
    import scipy.linalg  # noqa: F401 - loads scipy's own OpenBLAS, so that it is listed
    import threadpoolctl
    import torch

    blas = sorted(
        f"{p.get('prefix')}:{p.get('version')}:{p.get('architecture')}:{p.get('num_threads')}"
        for p in threadpoolctl.threadpool_info()
        if p.get("internal_api") == "openblas"
    )
    cpu = _cpu_isa()
    tags = {
        "kernels.pinned": str(not native_requested()).lower(),
        "kernels.device": device,
        "kernels.arch": platform.machine(),
        "kernels.aten": torch.backends.cpu.get_cpu_capability(),
        "kernels.onednn": os.environ.get("ONEDNN_MAX_CPU_ISA") or f"native:{cpu}",
        "kernels.mkl": os.environ.get("MKL_CBWR") or f"native:{cpu}",
        "kernels.openblas": ",".join(blas),
        "kernels.numpy_simd": _numpy_simd(),
        "kernels.threads": str(torch.get_num_threads()),
        **{f"kernels.{lib}": metadata.version(lib) for lib in LIBRARIES},
    }
    tags["kernels.fingerprint"] = hashlib.md5(json.dumps(tags, sort_keys=True).encode()).hexdigest()
    tags["kernels.cpu"] = cpu
    return tags


def differences(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """``key: recorded -> now`` for each ``kernels.*`` entry (but the fingerprint) that differs."""
    keys = sorted(
        k
        for k in set(recorded) | set(now)
        if k.startswith("kernels.") and k not in {"kernels.fingerprint", "kernels.cpu"}
    )
    return [
        f"{k.removeprefix('kernels.')}: {recorded.get(k, '-')} -> {now.get(k, '-')}"
        for k in keys
        if recorded.get(k) != now.get(k)
    ]
