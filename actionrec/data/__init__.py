"""Data (layer above media and config): landmark recordings, clips, splits, the demo corpus and Great
Expectations validation.
"""
