"""Core (the lowest layer): landmark schema, labels, the feature transform, typed manifests and atomic
IO, with no heavy dependencies.
"""
