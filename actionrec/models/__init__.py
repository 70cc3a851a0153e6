"""Action classifiers: landmark LSTM, pixel ConvLSTM and the one torch training loop."""
