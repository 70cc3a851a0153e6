"""Serving trained models on video: what the live bundle vendors (all but ``web``).

``bundle`` (which model a run loads), ``recognizer`` (frames -> smoothed predictions),
``capture`` (the capture thread), ``overlay`` (annotated frames), ``runtime`` (signals, display),
``options`` (command-line value types), ``live`` (the live loop and its CLI), ``record`` (the
session recorder), ``offline`` (whole-video predictions for ``web``, the upload web app).
"""
