"""Training, data loading, tuning stages and evaluation (the `train` extra). Serving never imports this package."""
