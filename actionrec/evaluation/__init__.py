"""Evaluation (layer above lineage): test metrics, plots, the leaderboard and cross-validation of the trained models."""
