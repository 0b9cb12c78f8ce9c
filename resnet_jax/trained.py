"""A trained run as a Python object: load it from its workdir, predict, evaluate, export.

Loading and predicting import no TensorFlow (only `test_split` and `train_model` do), and the
weights are restored onto one device, whatever the number or kind of devices that wrote them.
"""

import copy
import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from resnet_jax import checkpoints, cifar10, models, optim, run_config, steps
from resnet_jax.errors import ConfigError, InputError


@dataclasses.dataclass(frozen=True)
class TrainedModel:
  """A run's config and weights at one checkpoint.

  `variables` ({'params', 'batch_stats'}; the whitening kernel is a batch statistic) are the
  weights the run evaluates, the slow ones under Lookahead; `ema_variables` their average over
  steps, when the run kept one (config.ema_decay); `ema()` swaps them in.
  """
  config: ml_collections.ConfigDict
  variables: dict
  step: int
  workdir: str  # Absolute.
  checkpoint: str  # The checkpoint's folder.
  ema_variables: dict | None = None
  class_names: tuple[str, ...] = cifar10.CLASS_NAMES

  @functools.cached_property
  def _model(self) -> models.ResNet:
    return models.create_model(self.config.model,
                              half_precision=self.config.half_precision)

  def probabilities(self, variables, images, tta: bool = True) -> jax.Array:
    """The traceable function that `predict` jits and `export` exports: uint8 images in."""
    return jnp.exp(steps.tta_log_probs(
        self._model.apply, variables, cifar10.normalize(images),
        tta_flip=tta and self.config.tta_flip, tta_shift=tta and self.config.tta_shift))

  @functools.cached_property
  def _jitted_probabilities(self):
    return jax.jit(self.probabilities, static_argnames='tta')  # Compiled once per batch shape.

  def predict(self, images: np.ndarray, *, tta: bool = True,
              batch_size: int | None = None) -> np.ndarray:
    """Class probabilities (N, 10) of uint8 images (N, 32, 32, 3), in batches of `batch_size`
    (default config.eval_batch_size, as evaluation), the last one padded.

    With `tta` (default), the mean over the config's test-time views (tta_flip, tta_shift), as
    the run's reports; without, of the images alone.
    """
    images = check_images(images)
    if not len(images):
      return np.zeros((0, cifar10.NUM_CLASSES), np.float32)
    batch_size = batch_size or self.config.eval_batch_size
    padded = np.concatenate([images, np.zeros(
        ((-len(images)) % batch_size, *images.shape[1:]), np.uint8)])
    batches = [self._jitted_probabilities(self.variables, padded[i:i + batch_size], tta=tta)
               for i in range(0, len(padded), batch_size)]  # Dispatched before any is read.
    return np.concatenate([np.asarray(b) for b in batches])[:len(images)]

  def evaluate(self, images: np.ndarray, labels: np.ndarray, *, tta: bool = True,
               batch_size: int | None = None) -> dict:
    """Accuracy and mean cross-entropy loss on labelled images (as the run's report.json)."""
    labels = np.asarray(labels)
    probabilities = self.predict(images, tta=tta, batch_size=batch_size)
    if labels.shape != (len(probabilities),):
      raise InputError(f'labels have shape {labels.shape}; expected ({len(probabilities)},), '
                        'one per image')
    picked = probabilities[np.arange(len(labels)), labels]
    return {'accuracy': float(np.mean(probabilities.argmax(-1) == labels)),
            'loss': float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float32).tiny)))),
            'num_images': len(labels)}

  def test_split(self) -> tuple[np.ndarray, np.ndarray]:
    """The test images (uint8) and labels of the run's data (config.data)."""
    from resnet_jax import data_sources  # pylint: disable=g-import-not-at-top
    return data_sources.load_split(self.config.data, 'test')

  def ema(self) -> 'TrainedModel':
    """The same model with its averaged weights (config.ema_decay) in place of the trained ones."""
    if self.ema_variables is None:
      raise ConfigError(f'the run of {self.checkpoint} kept no average of its weights '
                        '(config.ema_decay=0)')
    return dataclasses.replace(self, variables=self.ema_variables, ema_variables=None)

  def export(self, directory: str | None = None) -> str:
    """Writes the model as a file that runs with only JAX installed; see `export`."""
    from resnet_jax import export  # pylint: disable=g-import-not-at-top
    return export.write(self, directory)


def check_images(images) -> np.ndarray:
  """`images` as a uint8 (N, 32, 32, 3) array, or an InputError saying what they are instead."""
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != cifar10.IMAGE_SHAPE:
    raise InputError(f'images are {images.dtype} of shape {images.shape}; expected uint8 '
                      f'pixels of shape (N, {", ".join(map(str, cifar10.IMAGE_SHAPE))})')
  return images


def load(workdir: str, checkpoint: str | int = 'default') -> TrainedModel:
  """The run in `workdir` at `checkpoint`: 'best' (early stopping's), 'latest' (the newest), a
  step number, or 'default': what `--mode=eval` evaluates (`checkpoints.default_kind`)."""
  from resnet_jax import defaults  # pylint: disable=g-import-not-at-top
  workdir = os.path.abspath(os.path.expanduser(workdir))  # Orbax wants absolute paths.
  config = run_config.load(workdir, defaults=defaults.get_config())
  if config is None:
    raise ConfigError(f'{workdir} holds no run ({run_config.FILENAME} is missing); give the '
                      'workdir of a trained run')
  best, latest = (checkpoints.directory(workdir, kind)
                  for kind in (checkpoints.BEST, checkpoints.LATEST))
  if checkpoint == 'default':  # As train.evaluate_checkpoint.
    checkpoint = {checkpoints.BEST: 'best', checkpoints.LATEST: 'latest'}[
        checkpoints.default_kind(config, workdir)]
  if checkpoint == 'best':
    directory, step = best, None
  elif checkpoint == 'latest':
    directory, step = latest, None
  elif isinstance(checkpoint, int) or str(checkpoint).isdigit():
    step = int(checkpoint)
    directory = best if os.path.isdir(os.path.join(best, str(step))) else latest
  else:
    raise ConfigError(f'checkpoint={checkpoint!r}; expected default, best, latest or a step '
                      'number')
  with checkpoints.quiet_orbax() as orbax_records:  # Said in our words below, if anything.
    manager = os.path.isdir(directory) and ocp.CheckpointManager(
        directory, item_handlers=ocp.StandardCheckpointHandler(),
        options=ocp.CheckpointManagerOptions(create=False))
    available = manager.all_steps() if manager else []
    if step is None and available:
      step = max(available)
    if step is None or step not in available:
      raise ConfigError(
          f'no checkpoint {"" if step is None else f"of step {step} "}in {directory}'
          + (f' (steps there: {", ".join(map(str, sorted(available)))})' if available else
             '; train first, or point at a trained run'))
    path = os.path.join(directory, str(step))
    try:
      state = manager.restore(step, args=ocp.args.StandardRestore(_state_template(config)))
    except Exception as e:  # pylint: disable=broad-exception-caught
      what = checkpoints.damage(e) or (
          f'{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else "no details"}')
      raise ConfigError(f'the checkpoint {path} is unreadable ({what})') from None
  checkpoints.report_orbax(orbax_records, directory, step)
  weights = lambda params, batch_stats: {'params': params, 'batch_stats': batch_stats}
  return TrainedModel(
      config=config, step=int(state.step), workdir=workdir, checkpoint=path,
      variables=weights(optim.slow_params(state.params), state.batch_stats),
      ema_variables=None if state.ema is None else weights(**state.ema))


def _state_template(config):
  """The shapes and dtypes of the run's train state, all placed on this process's first device:
  a checkpoint written on any mesh restores onto it."""
  model = models.create_model(config.model, half_precision=config.half_precision)
  schedule = optim.learning_rate_schedule(config.optimizer, 1, config.num_epochs)
  abstract = jax.eval_shape(lambda: steps.create_train_state(config, model, schedule))
  device = jax.sharding.make_single_device_sharding(jax.local_devices()[0])
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                      abstract)


def get_config(path: str, overrides: dict | list[str] | tuple[str, ...] = ()
               ) -> ml_collections.ConfigDict:
  """The config of a config file (`configs/resnet24.py`) with overrides, as launch.py's --config.

  `overrides` are {'optimizer.learning_rate': 0.1} or ['optimizer.learning_rate=0.1'] (each as
  `--config.optimizer.learning_rate=0.1` on the command line, parsed the same way).
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  strings = [] if isinstance(overrides, dict) else list(overrides)
  argv = ['get_config', f'--config={path}'] + [f'--config.{o}' for o in strings]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, flag_values=flag_values, sys_argv=argv)
  try:
    flag_values(argv)
  except (flags.Error, AttributeError, KeyError) as e:  # ml_collections' unknown fields.
    raise ConfigError(f'cannot apply the overrides {strings} to {path}: {e}') from None
  config = flag_values.config
  for key, value in (overrides.items() if isinstance(overrides, dict) else ()):
    try:
      config.update_from_flattened_dict({key: copy.deepcopy(value)})
    except (AttributeError, KeyError, TypeError):
      raise ConfigError(f'{key}={value!r}: {path} has no such field, or not of that type'
                        ) from None
  return config


def train_model(config, workdir: str) -> TrainedModel:
  """Trains `config` into `workdir` as `python launch.py --config FILE --workdir DIR` does
  (resuming from its newest checkpoint, printing the same console), and loads the result as
  `load(workdir)`.

  As launch.py, it uses the persistent compilation cache; the fast XLA:CPU flags (`cpu_tuning`)
  take effect only if JAX has not started yet in this process.
  """
  # pylint: disable-next=g-import-not-at-top
  from resnet_jax import caches, console, cpu_tuning, train as training
  cpu_tuning.use_fast_cpu_flags()
  caches.use_compilation_cache()
  training.train_and_evaluate(config, workdir, progress=console.TrainingConsole())
  return load(workdir)
