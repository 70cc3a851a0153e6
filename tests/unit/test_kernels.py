"""Pinned numeric kernels: the stages' environment gives the same bits on this machine as on an
AVX2-only one, the speed switch does not, and `reproduce` picks exact or tolerant comparison
from the recorded kernel fingerprints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actionrec.core import kernels
from actionrec.lineage.agreement import comparison

# What an AVX2-only x86-64 machine gives the libraries natively (simulated on this one).
AVX2_MACHINE = {
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    **kernels.NUMPY_AVX512_OFF,  # numpy finds no AVX-512 there
}
KERNEL_VARS = {*kernels.PINNED, *AVX2_MACHINE, kernels.NATIVE_SWITCH}

# A few training steps of an LSTM and a Conv2d (the kernels the sequence and clip models use), a
# BLAS solve and numpy's exp (gradient boosting's probabilities), after `import stages` (what
# `python -m stages.<name>` does first).
PROBE = """
import hashlib, json, stages, numpy as np, torch
from actionrec.core.kernels import fingerprint
torch.manual_seed(0)
lstm, head, conv = torch.nn.LSTM(40, 64, 2, batch_first=True), torch.nn.Linear(64, 4), torch.nn.Conv2d(3, 8, 3)
params = [*lstm.parameters(), *head.parameters(), *conv.parameters()]
opt = torch.optim.Adam(params, 1e-2)
x, y, img = torch.randn(16, 30, 40), torch.randint(0, 4, (16,)), torch.randn(4, 3, 32, 32)
for _ in range(3):
    opt.zero_grad()
    out, _ = lstm(x)
    (torch.nn.functional.cross_entropy(head(out[:, -1]), y) + conv(img).square().mean()).backward()
    opt.step()
a = np.random.default_rng(0).standard_normal((200, 200))
bits = b"".join(p.detach().numpy().tobytes() for p in params) + np.linalg.solve(a @ a.T + np.eye(200), a[0]).tobytes()
exp = hashlib.md5(np.exp(np.linspace(-5, 5, 100_001)).tobytes()).hexdigest()
print(json.dumps({"bits": hashlib.md5(bits).hexdigest(), "exp": exp, **fingerprint()}))
"""


def _probe(**env: str) -> dict[str, str]:
    """The probe in a fresh interpreter whose environment sets only ``env`` of the kernel variables."""
    base = {k: v for k, v in os.environ.items() if k not in KERNEL_VARS}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def probes() -> dict[str, dict[str, str]]:
    return {
        "native": _probe(),
        "avx2_machine": _probe(**AVX2_MACHINE),
        "switch": _probe(**{kernels.NATIVE_SWITCH: "1"}),
    }


def test_stages_pin_kernels_and_threads(probes: dict[str, dict[str, str]]) -> None:
    fp = probes["native"]
    assert fp["kernels.pinned"] == "true"
    assert fp["kernels.aten"] == "AVX2", "torch must honour ATEN_CPU_CAPABILITY"
    assert fp["kernels.threads"] == str(kernels.THREADS)
    assert fp["kernels.onednn"] == "AVX2" and fp["kernels.mkl"] == "AVX2"
    assert all(":Haswell:" in lib and lib.endswith(f":{kernels.THREADS}") for lib in fp["kernels.openblas"].split(","))
    assert len(fp["kernels.openblas"].split(",")) == 2, "numpy's and scipy's OpenBLAS are both listed"
    assert "AVX2" in fp["kernels.numpy_simd"] and "AVX512" not in fp["kernels.numpy_simd"]


def test_same_bits_here_and_on_an_avx2_machine(probes: dict[str, dict[str, str]]) -> None:
    native, avx2 = probes["native"], probes["avx2_machine"]
    assert native["bits"] == avx2["bits"] and native["exp"] == avx2["exp"]
    assert native["kernels.fingerprint"] == avx2["kernels.fingerprint"]
    assert comparison(native, avx2)[0] is True


@pytest.mark.skipif(kernels._cpu_isa() != "avx512", reason="the native kernels differ from AVX2 only on an AVX-512 CPU")
def test_native_switch_gives_other_bits_and_fingerprint(probes: dict[str, dict[str, str]]) -> None:
    """Without the pinning (the speed switch: what every stage did before), this AVX-512 machine
    trains other bits than an AVX2 one, and the fingerprints say so."""
    native, switch = probes["avx2_machine"], probes["switch"]
    assert switch["kernels.pinned"] == "false" and switch["kernels.aten"] == "AVX512"
    assert switch["bits"] != native["bits"]
    assert switch["exp"] != native["exp"], "numpy's AVX-512 exp loop gives other bits than its AVX2 one"
    exact, why = comparison(native, switch)
    assert exact is False and "aten: AVX2 -> AVX512" in why and "pinned: true -> false" in why
    assert "AVX512F" in why, "numpy_simd names the AVX-512 loops"


def test_comparison_rules() -> None:
    fp = {"device": "cpu", "kernels.fingerprint": "f" * 32, "kernels.pinned": "true", "kernels.threads": "2"}
    exact, why = comparison(fp, dict(fp))
    assert exact and "same kernel fingerprint" in why
    exact, why = comparison(fp, {**fp, "device": "cuda"})
    assert not exact and "GPU" in why
    assert "no kernel fingerprint" in comparison({"device": "cpu"}, fp)[1]
    exact, why = comparison(fp, {**fp, "kernels.fingerprint": "0" * 32, "kernels.torch": "2.14.0"})
    assert not exact and "torch: - -> 2.14.0" in why


def test_readme_names_every_pinned_variable() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for var in kernels.PINNED:
        assert (var.removesuffix("NUM_THREADS") if var.endswith("_NUM_THREADS") else f"`{var}") in readme, var
