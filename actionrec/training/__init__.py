"""Training (layer above lineage): the shared torch loop, the classical, LSTM and ConvLSTM runs and their curves."""
