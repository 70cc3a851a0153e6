"""Extraction (layer above data and models): MediaPipe landmarks from video clips, cached per clip, run
by a local or Dask executor.
"""
