"""resnet_jax: design and train CIFAR-10 ResNets under a parameter budget, in pure JAX.

The Python API over runs (see README, "Using a trained model"):

  import resnet_jax
  config = resnet_jax.get_config('configs/tiny.py', {'num_epochs': 2})
  model = resnet_jax.train(config, 'runs/tiny')     # Or resnet_jax.load('runs/tiny').
  probabilities = model.predict(images)             # uint8 (N, 32, 32, 3) -> (N, 10).
"""

from resnet_jax.trained import TrainedModel, get_config, load, train

__all__ = ['TrainedModel', 'get_config', 'load', 'train']
