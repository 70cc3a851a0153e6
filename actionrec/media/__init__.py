"""Media (layer above core): video decoding and the MediaPipe Holistic wrapper."""
