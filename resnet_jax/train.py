"""Train state, the data-parallel train and eval steps, and the train / evaluate loops."""

import functools
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from clu import metric_writers, metrics, periodic_actions
from flax.training import train_state
from jax.experimental import multihost_utils

from resnet_jax import checkpoints, input_pipeline, models, optim, parallel, validation
from resnet_jax.parallel import AXIS


class TrainState(train_state.TrainState):
  batch_stats: Any


@flax.struct.dataclass
class TrainMetrics(metrics.Collection):
  loss: metrics.Average.from_output('loss')
  accuracy: metrics.Average.from_output('accuracy')
  learning_rate: metrics.LastValue.from_output('learning_rate')


@flax.struct.dataclass
class ConfusionMatrix(metrics.Metric):
  """Counts of (true class, predicted class) pairs over unmasked examples."""
  counts: jax.Array

  @classmethod
  def from_model_output(cls, *, logits, labels, mask, **_):
    num_classes = logits.shape[-1]
    return cls(jnp.einsum('n,ni,nj->ij', mask, jax.nn.one_hot(labels, num_classes),
                          jax.nn.one_hot(jnp.argmax(logits, -1), num_classes)))

  def merge(self, other):
    return type(self)(self.counts + other.counts)

  def reduce(self):
    return type(self)(self.counts.sum(axis=0))

  def compute(self):
    return self.counts


@flax.struct.dataclass
class EvalMetrics(metrics.Collection):
  loss: metrics.Average.from_output('loss')
  accuracy: metrics.Accuracy
  confusion: ConfusionMatrix


def cross_entropy(logits, labels, label_smoothing: float = 0.0):
  targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


def train_step(state: TrainState, batch, *, learning_rate_fn, label_smoothing: float):
  """One SGD step on this device's slice of the global batch (run under `data_parallel`).

  The loss is the mean over the global batch; since the parameters are replicated, JAX sums
  their gradients over devices, so every replica applies the same global-batch update.
  BatchNorm averages its statistics over all devices (`bn_axis_name`).
  """
  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, batch['image'], train=True,
        mutable=['batch_stats'])
    loss = jax.lax.pmean(cross_entropy(logits, batch['label'], label_smoothing).mean(), AXIS)
    return loss, (logits, updates['batch_stats'])

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  accuracy = jax.lax.pmean(jnp.mean(jnp.argmax(logits, -1) == batch['label']), AXIS)
  step_metrics = TrainMetrics.single_from_model_output(
      loss=loss, accuracy=accuracy, learning_rate=learning_rate_fn(state.step))
  return state.apply_gradients(grads=grads, batch_stats=batch_stats), step_metrics


def eval_step(state: TrainState, batch) -> EvalMetrics:
  """Metrics of one eval batch: every field is a sum, so summing over devices merges them."""
  logits = state.apply_fn({'params': state.params, 'batch_stats': state.batch_stats},
                          batch['image'], train=False)
  local = EvalMetrics.single_from_model_output(
      logits=logits, labels=batch['label'], mask=batch['mask'],
      loss=cross_entropy(logits, batch['label']))
  return jax.tree.map(lambda x: jax.lax.psum(x, AXIS), local)


def create_train_state(config, model: models.ResNet, learning_rate_fn) -> TrainState:
  """Freshly initialized parameters, BatchNorm statistics and optimizer state."""
  @jax.jit
  def init():
    variables = model.init(jax.random.key(config.seed), jnp.zeros((1, *models.IMAGE_SHAPE)),
                           train=False)
    return TrainState.create(apply_fn=model.apply, params=variables['params'],
                             batch_stats=variables['batch_stats'],
                             tx=optim.create_optimizer(config.optimizer, learning_rate_fn))
  return init()


def make_train_step(mesh, learning_rate_fn, label_smoothing: float = 0.0):
  """The jitted data-parallel train step; it consumes (donates) the state it is given."""
  step = functools.partial(train_step, learning_rate_fn=learning_rate_fn,
                           label_smoothing=label_smoothing)
  return jax.jit(parallel.data_parallel(step, mesh), donate_argnums=0)


class Trainer:
  """Everything a run needs, built from a validated config: model, data, compiled steps."""

  def __init__(self, config, mesh, *, with_train_data: bool = True):
    self.config, self.mesh = config, mesh
    process = dict(process_index=jax.process_index(), process_count=jax.process_count())
    self.local_batch = config.batch_size // jax.process_count()
    self.local_eval_batch = config.eval_batch_size // jax.process_count()
    self.model = models.create_model(config.model, bn_axis_name=AXIS)
    self.test_images, self.test_labels = input_pipeline.load_split(config.data, 'test', **process)
    self.num_eval_batches = int(multihost_utils.process_allgather(
        -(-len(self.test_images) // self.local_eval_batch)).max())
    steps_per_epoch = 1
    if with_train_data:
      self.train_images, self.train_labels = input_pipeline.load_split(
          config.data, 'train', fraction=config.data.train_fraction, **process)
      steps_per_epoch = int(multihost_utils.process_allgather(
          len(self.train_images) // self.local_batch).min())
      if steps_per_epoch == 0:
        raise validation.ConfigError(
            f'config.batch_size={config.batch_size} is larger than the training set '
            f'({len(self.train_images)} images on this process); lower it')
    self.steps_per_epoch = steps_per_epoch
    self.num_steps = steps_per_epoch * config.num_epochs
    self.learning_rate_fn = optim.learning_rate_schedule(config.optimizer, steps_per_epoch,
                                                         config.num_epochs)
    self.train_step = make_train_step(mesh, self.learning_rate_fn, config.label_smoothing)
    self.eval_step = jax.jit(parallel.data_parallel(eval_step, mesh))

  def initial_state(self) -> TrainState:
    return parallel.replicate(create_train_state(self.config, self.model,
                                                 self.learning_rate_fn), self.mesh)

  def train_batches(self, first_step: int):
    return input_pipeline.train_batches(
        self.train_images, self.train_labels, batch_size=self.local_batch,
        augment_config=self.config.augment, seed=self.config.seed,
        process_index=jax.process_index(), first_step=first_step)

  def evaluate(self, state: TrainState) -> EvalMetrics:
    """Metrics over every test image exactly once."""
    total = None
    for batch in input_pipeline.eval_batches(self.test_images, self.test_labels,
                                             batch_size=self.local_eval_batch,
                                             num_batches=self.num_eval_batches):
      step_metrics = self.eval_step(state, parallel.shard_batch(batch, self.mesh))
      total = step_metrics if total is None else total.merge(step_metrics)
    return total


def eval_summary(eval_metrics: EvalMetrics) -> dict[str, Any]:
  """Test loss, accuracy and per-class accuracy as Python numbers."""
  computed = eval_metrics.compute()
  confusion = np.asarray(computed['confusion'])
  per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
  return {'loss': float(computed['loss']), 'accuracy': float(computed['accuracy']),
          'per_class_accuracy': dict(zip(input_pipeline.CLASS_NAMES, per_class.tolist())),
          'num_images': int(confusion.sum())}


def train_and_evaluate(config, workdir: str) -> TrainState:
  """Trains (resuming from the newest checkpoint in `workdir`), evaluates, checkpoints."""
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  trainer = Trainer(config, mesh)
  writer = metric_writers.create_default_writer(workdir, just_logging=jax.process_index() > 0)
  writer.write_hparams(config.to_dict() | {'model': str(config.model.to_dict())})
  manager = checkpoints.create_manager(workdir, config.keep_checkpoints)
  state = trainer.initial_state()
  restored = checkpoints.restore_latest(manager, state)
  first_step = 0
  if restored is not None:
    state, first_step = restored, int(restored.step)
    logging.info('Resumed from the checkpoint at step %d (epoch %.2f) in %s.', first_step,
                 first_step / trainer.steps_per_epoch, manager.directory)
  if first_step >= trainer.num_steps:
    logging.info('Already trained for %d steps (%d epochs); nothing left to do.', first_step,
                 config.num_epochs)
    return state

  logging.info('Training %d steps (%d epochs of %d steps, global batch %d) on %d devices.',
               trainer.num_steps - first_step, config.num_epochs, trainer.steps_per_epoch,
               config.batch_size, mesh.size)
  report_progress = periodic_actions.ReportProgress(num_train_steps=trainer.num_steps,
                                                    writer=writer, every_secs=30)
  batches = trainer.train_batches(first_step)
  train_metrics, last_log_step, last_log_time = None, first_step, time.time()
  for step in range(first_step + 1, trainer.num_steps + 1):
    batch = parallel.shard_batch(next(batches), mesh)
    with jax.transfer_guard('disallow'):
      state, step_metrics = trainer.train_step(state, batch)
    train_metrics = step_metrics if train_metrics is None else train_metrics.merge(step_metrics)
    if jax.process_index() == 0:
      report_progress(step)
    if step % config.log_every_steps == 0 or step == trainer.num_steps:
      summary = {f'train_{k}': v for k, v in train_metrics.compute().items()}
      summary['train_images_per_sec'] = ((step - last_log_step) * config.batch_size
                                         / (time.time() - last_log_time))
      writer.write_scalars(step, summary)
      train_metrics, last_log_step, last_log_time = None, step, time.time()
    if step % trainer.steps_per_epoch and step != trainer.num_steps:
      continue
    epoch = step // trainer.steps_per_epoch
    if epoch % config.eval_every_epochs == 0 or step == trainer.num_steps:
      results = eval_summary(trainer.evaluate(state))
      writer.write_scalars(step, {'test_loss': results['loss'],
                                  'test_accuracy': results['accuracy']})
    if epoch % config.checkpoint_every_epochs == 0 or step == trainer.num_steps:
      checkpoints.save(manager, state)
    writer.flush()
  manager.wait_until_finished()
  return state


def evaluate_checkpoint(config, workdir: str) -> dict[str, Any]:
  """Test metrics of the newest checkpoint in `workdir`."""
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  manager = checkpoints.create_manager(workdir, config.keep_checkpoints)
  if manager.latest_step() is None:
    raise validation.ConfigError(f'no checkpoint in {manager.directory}; train first '
                                 '(--mode=train) or point --workdir at a trained run')
  trainer = Trainer(config, mesh, with_train_data=False)
  state = checkpoints.restore_latest(manager, trainer.initial_state())
  return {'step': int(state.step)} | eval_summary(trainer.evaluate(state))
