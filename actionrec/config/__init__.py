"""Configuration (layer above core): the typed ``params.yaml`` models, the repository paths and the stage runner."""
