"""Validation of the raw landmark CSVs and video clips with Great Expectations, and its report."""
