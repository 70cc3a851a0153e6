"""DVC stage scripts (``python -m stages.<name>``). Importing this package pins the numeric
kernels and thread counts before any stage loads numpy or torch (see :mod:`actionrec.core.kernels`;
``ACTIONREC_NATIVE_KERNELS=1`` opts out)."""

from actionrec.core.kernels import pin

pin()
