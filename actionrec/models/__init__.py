"""Action classifiers (scikit-learn pipelines, landmark LSTM, pixel ConvLSTM) and how to load and run them."""
