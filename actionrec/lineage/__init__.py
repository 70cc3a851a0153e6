"""Lineage (layer above extraction): MLflow tracking, git and DVC records, run records and reproduction of past runs."""
