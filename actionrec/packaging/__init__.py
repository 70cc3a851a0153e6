"""Packaging (layer above evaluation): picks the served models through one quality gate, writes the
live-inference bundle and moves the registry's champion.
"""
