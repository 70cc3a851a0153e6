"""Demo data: small deterministic inputs that exercise the real pipeline end to end."""
