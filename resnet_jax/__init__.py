"""resnet_jax: design and train CIFAR-10 ResNets under a parameter budget, in pure JAX.

The Python API over runs (`trained`; see docs/trained_models.md, "Using a trained model"):

  import resnet_jax
  config = resnet_jax.get_config('configs/tiny.py', {'num_epochs': 2})
  model = resnet_jax.train_model(config, 'runs/tiny')  # Or resnet_jax.load('runs/tiny').
  probabilities = model.predict(images)  # uint8 (N, 32, 32, 3) -> (N, 10).
"""

__all__ = ['TrainedModel', 'get_config', 'load', 'train_model']


def __getattr__(name):
  """The API is imported on first use, so that importing any one module (launch.py's
  `resnet_jax.cpu_tuning`, before JAX starts) does not import JAX, flax and Orbax."""
  if name in __all__:
    from resnet_jax import trained  # pylint: disable=g-import-not-at-top
    return getattr(trained, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
