"""Where torch comes from, per install target (standard library only: `make lock` runs it in a bare venv).

PyPI's ``torch`` wheel for Linux x86_64 is a CUDA build that pulls several GB of ``nvidia-*``,
``cuda-*`` and ``triton`` packages; the CPU build of the same release (``2.13.0+cpu``) is served
only by the PyTorch CPU index. So a CPU requirements file pins ``torch==X`` (which matches
``X+cpu``) and names that index; a CUDA one pins PyPI's build and its CUDA packages.
"""

from __future__ import annotations

import os
import re
import ssl

PYPI = "https://pypi.org/simple"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_INDEX_LINE = f"--extra-index-url {CPU_INDEX}"
_CUDA_ONLY = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cuda_only(name: str) -> bool:
    """Whether a distribution is one of torch's CUDA runtime dependencies (not needed on CPU)."""
    return bool(_CUDA_ONLY.match(canonical(name)))


def public_version(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0`` (PyPI serves no local-version builds)."""
    return version.split("+", 1)[0]


def pypi_only_env(home: str) -> dict[str, str]:
    """Environment for a pip that sees PyPI alone: no configuration file of this machine (no
    find-links, extra indexes or constraints), no pip variables; only this machine's CA bundle
    (trust, not a package source) so that HTTPS works behind an intercepting proxy."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": PYPI,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_CACHE_DIR": os.path.expanduser("~/.cache/pip"),  # an HTTP cache, not a package source
    }
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().cafile
    if cafile and os.path.isfile(cafile):
        env["PIP_CERT"] = cafile
    return env
