"""Training with PyTorch: models, the training loop, data sets, the feature cache, what a model costs."""
