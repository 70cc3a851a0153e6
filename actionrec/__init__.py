"""actionrec: reproducible human action recognition from MediaPipe landmarks and video."""

__version__ = "0.1.0"
