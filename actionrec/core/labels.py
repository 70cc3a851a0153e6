"""The label map: class names <-> indices, in the order params.yaml lists them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class LabelMap:
    """Fixed, ordered class names shared by training, evaluation and serving."""

    def __init__(self, labels: Sequence[str]):
        self.labels = list(labels)
        self._index = {name: i for i, name in enumerate(self.labels)}

    def encode(self, names: Iterable[str], source: str = "data") -> np.ndarray:
        names = list(names)
        unknown = sorted(set(names) - self._index.keys())
        if unknown:
            raise ValueError(f"{source}: labels {unknown} are not in data.labels {self.labels}")
        return np.array([self._index[n] for n in names], dtype=np.int64)

    def decode(self, indices: Iterable[int]) -> list[str]:
        return [self.labels[int(i)] for i in indices]

    def __len__(self) -> int:
        return len(self.labels)
