"""Train state, the data-parallel train and eval steps, and the train / evaluate loops."""

import contextlib
import functools
import os
import signal
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

from resnet_jax import (checkpoints, early_stopping, input_pipeline, mixing, models, optim,
                        parallel, plots, preemption, reports, validation, workdir_lock)
from resnet_jax.parallel import AXIS


class TrainState(train_state.TrainState):
  batch_stats: Any
  ema: Any = None  # {'params', 'batch_stats'} averaged over steps, when config.ema_decay > 0.


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


def cross_entropy(logits, targets, label_smoothing: float = 0.0):
  """Against class probabilities `targets` (one-hot, or mixed by mixup / cutmix)."""
  return optax.softmax_cross_entropy(logits, optax.smooth_labels(targets, label_smoothing))


class NonFiniteLoss(Exception):
  """The loss became NaN or infinite; the run stopped without saving."""


def train_step(state: TrainState, batch, *, learning_rate_fn, label_smoothing: float = 0.0,
               seed: int = 0, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0,
               dropblock_rate_fn=None, ema_decay: float = 0.0):
  """One optimizer step on this device's slice of the global batch (run under `data_parallel`).

  Returns the new state, the step's metrics, and whether its loss and update were finite.

  The loss is the mean over the global batch; since the parameters are replicated, JAX sums
  their gradients over devices, so every replica applies the same global-batch update.
  BatchNorm averages its statistics over all devices (`bn_axis_name`). Random numbers (mixing,
  dropout, DropBlock) are a function of (seed, step, device): reproducible when resumed, and
  different on every device.
  """
  key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), state.step),
                           jax.lax.axis_index(AXIS))
  mix_key, dropout_key = jax.random.split(key)
  images, perm, weight = mixing.mix(mix_key, batch['image'], mixup_alpha=mixup_alpha,
                                    cutmix_alpha=cutmix_alpha)
  dropblock_rate = dropblock_rate_fn(state.step) if dropblock_rate_fn else 0.0

  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, images, train=True,
        dropblock_rate=dropblock_rate, mutable=['batch_stats'], rngs={'dropout': dropout_key})
    targets = mixing.mix_targets(jax.nn.one_hot(batch['label'], logits.shape[-1]), perm, weight)
    loss = jax.lax.pmean(cross_entropy(logits, targets, label_smoothing).mean(), AXIS)
    return loss, (logits, updates['batch_stats'])

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      optim.fast_params(state.params))
  accuracy = jax.lax.pmean(jnp.mean(jnp.argmax(logits, -1) == batch['label']), AXIS)
  step_metrics = TrainMetrics.single_from_model_output(
      loss=loss, accuracy=accuracy, learning_rate=learning_rate_fn(state.step))
  updated = state.apply_gradients(grads=grads, batch_stats=batch_stats)
  if ema_decay:
    updated = updated.replace(ema=optax.incremental_update(
        {'params': optim.slow_params(updated.params), 'batch_stats': batch_stats}, state.ema,
        1 - ema_decay))
  # A non-finite loss or update never reaches the state: the step is skipped and reported.
  finite = jnp.isfinite(loss) & jnp.all(jnp.array(
      [jnp.isfinite(x).all() for x in jax.tree.leaves((updated.params, updated.batch_stats))]))
  skipped = state.replace(step=state.step + 1)
  new_state = jax.tree.map(lambda u, s: jnp.where(finite, u, s), updated, skipped)
  return new_state, step_metrics, finite


def eval_step(state: TrainState, batch, *, tta_flip: bool = False) -> EvalMetrics:
  """Metrics of one eval batch: every field is a sum, so summing over devices merges them.

  `tta_flip` scores the mean of the predicted probabilities of each image and its mirror.
  """
  def log_probs(images):  # Under Lookahead, of the slow weights.
    return jax.nn.log_softmax(state.apply_fn(
        {'params': optim.slow_params(state.params), 'batch_stats': state.batch_stats}, images,
        train=False))

  logits = log_probs(batch['image'])  # Log-probabilities serve as logits from here on.
  if tta_flip:
    logits = jnp.logaddexp(logits, log_probs(batch['image'][:, :, ::-1])) - jnp.log(2.0)
  labels = jax.nn.one_hot(batch['label'], logits.shape[-1])
  local = EvalMetrics.single_from_model_output(
      logits=logits, labels=batch['label'], mask=batch['mask'], loss=cross_entropy(logits, labels))
  return jax.tree.map(lambda x: jax.lax.psum(x, AXIS), local)


def ema_weights(state: TrainState) -> TrainState:
  """The state with its averaged weights in place of the trained ones, for evaluation."""
  return state.replace(params=state.ema['params'], batch_stats=state.ema['batch_stats'])


def create_train_state(config, model: models.ResNet, learning_rate_fn) -> TrainState:
  """Freshly initialized parameters, BatchNorm statistics and optimizer state."""
  @jax.jit
  def init():
    variables = model.init(jax.random.key(config.seed), jnp.zeros((1, *models.IMAGE_SHAPE)),
                           train=False)
    return TrainState.create(apply_fn=model.apply,
                             params=optim.initial_params(config.optimizer, variables['params']),
                             batch_stats=variables['batch_stats'],
                             tx=optim.create_optimizer(config.optimizer, learning_rate_fn),
                             ema=dict(variables) if config.ema_decay else None)
  # The state is made on one device and then replicated, so the partitionable threefry
  # generator buys nothing here, and XLA compiles it about 5x slower on CPU (26 s against 5 s
  # for a tiny ResNet on a 2-core machine).
  with jax.threefry_partitionable(False):
    return init()


def make_train_step(mesh, learning_rate_fn, label_smoothing: float = 0.0, **options):
  """The jitted data-parallel train step; it consumes (donates) the state it is given.

  `options`: the other keyword arguments of `train_step` (seed, mixing, DropBlock, EMA).
  """
  step = functools.partial(train_step, learning_rate_fn=learning_rate_fn,
                           label_smoothing=label_smoothing, **options)
  return jax.jit(parallel.data_parallel(step, mesh), donate_argnums=0)


def create_model(config) -> models.ResNet:
  """The ResNet a run trains, with BatchNorm statistics averaged over devices.

  Under `config.half_precision` it computes in bf16; parameters, BatchNorm statistics and the
  logits (so the loss) stay fp32.
  """
  return models.create_model(config.model, bn_axis_name=AXIS,
                             dtype=jnp.bfloat16 if config.half_precision else jnp.float32)


def make_steps(config, mesh, learning_rate_fn, num_steps: int):
  """The jitted train and eval steps that `config` asks for, over `num_steps` of training."""
  train = make_train_step(
      mesh, learning_rate_fn, config.label_smoothing, seed=config.seed,
      mixup_alpha=config.augment.mixup_alpha, cutmix_alpha=config.augment.cutmix_alpha,
      dropblock_rate_fn=optax.linear_schedule(0.0, config.model.dropblock_rate, num_steps),
      ema_decay=config.ema_decay)
  evaluate = jax.jit(parallel.data_parallel(
      functools.partial(eval_step, tta_flip=config.tta_flip), mesh))
  return train, evaluate


class Trainer:
  """Everything a run needs, built from a validated config: model, data, compiled steps."""

  def __init__(self, config, mesh, *, with_train_data: bool = True):
    self.config, self.mesh = config, mesh
    process = dict(process_index=jax.process_index(), process_count=jax.process_count())
    self.local_batch = config.batch_size // jax.process_count()
    self.local_eval_batch = config.eval_batch_size // jax.process_count()
    self.model = create_model(config)
    self.eval_sets = {'test': input_pipeline.load_split(config.data, 'test', **process)}
    steps_per_epoch = 1
    if with_train_data:
      self.train_images, self.train_labels = input_pipeline.load_split(
          config.data, 'train', fraction=config.data.train_fraction, **process)
      if config.data.val_fraction:
        (self.train_images, self.train_labels), self.eval_sets['val'] = (
            input_pipeline.split_validation(self.train_images, self.train_labels,
                                            config.data.val_fraction, config.seed))
      steps_per_epoch = int(multihost_utils.process_allgather(
          len(self.train_images) // self.local_batch).min())
      if steps_per_epoch == 0:
        raise validation.ConfigError(
            f'config.batch_size={config.batch_size} is larger than the training set '
            f'({len(self.train_images)} images on this process); lower it')
    self.steps_per_epoch = steps_per_epoch
    self.num_steps = steps_per_epoch * config.num_epochs
    self.num_eval_batches = {split: int(multihost_utils.process_allgather(
        -(-len(images) // self.local_eval_batch)).max())
        for split, (images, _) in self.eval_sets.items()}
    self.learning_rate_fn = optim.learning_rate_schedule(config.optimizer, steps_per_epoch,
                                                         config.num_epochs)
    self.train_step, self.eval_step = make_steps(config, mesh, self.learning_rate_fn,
                                                 self.num_steps)

  def initial_state(self) -> TrainState:
    return parallel.replicate(create_train_state(self.config, self.model,
                                                 self.learning_rate_fn), self.mesh)

  def train_batches(self, first_step: int):
    return input_pipeline.train_batches(
        self.train_images, self.train_labels, batch_size=self.local_batch,
        augment_config=self.config.augment, seed=self.config.seed,
        process_index=jax.process_index(), first_step=first_step)

  def evaluate(self, state: TrainState, split: str = 'test') -> EvalMetrics:
    """Metrics over every image of `split` ('test', or 'val' if held out) exactly once."""
    total = None
    images, labels = self.eval_sets[split]
    for batch in input_pipeline.eval_batches(images, labels, batch_size=self.local_eval_batch,
                                             num_batches=self.num_eval_batches[split]):
      step_metrics = self.eval_step(state, parallel.shard_batch(batch, self.mesh))
      total = step_metrics if total is None else total.merge(step_metrics)
    return total

  def evaluate_all(self, state: TrainState) -> dict[str, dict[str, Any]]:
    """Summaries of every eval split, and of the test split with the EMA weights if kept."""
    results = {split: eval_summary(self.evaluate(state, split)) for split in self.eval_sets}
    if state.ema is not None:
      results['test_ema'] = eval_summary(self.evaluate(ema_weights(state)))
    return results

  def write_reports(self, state: TrainState, workdir: str) -> dict[str, Any]:
    """Writes the test reports of `state` (and of its EMA weights if kept); returns the first."""
    step = int(state.step)
    variants = [('report', f'Test results at step {step}', state)]
    if state.ema is not None:
      variants.append(('report_ema', f'Test results of the EMA weights at step {step}',
                       ema_weights(state)))
    summaries = []
    for name, title, weights in variants:
      summaries.append({'step': step} | eval_summary(self.evaluate(weights)))
      if jax.process_index() == 0:
        reports.write(workdir, summaries[-1], name=name, title=title)
    return summaries[0]


def eval_summary(eval_metrics: EvalMetrics) -> dict[str, Any]:
  """Loss, accuracy, per-class accuracy and confusion matrix (true x predicted) as numbers."""
  computed = eval_metrics.compute()
  confusion = np.rint(np.asarray(computed['confusion'])).astype(int)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
  return {'loss': float(computed['loss']), 'accuracy': float(computed['accuracy']),
          'per_class_accuracy': dict(zip(input_pipeline.CLASS_NAMES, per_class.tolist())),
          'num_images': int(confusion.sum()), 'confusion_matrix': confusion.tolist()}


def train_and_evaluate(config, workdir: str) -> TrainState:
  """Trains (resuming from the newest checkpoint in `workdir`), evaluates, checkpoints.

  At the end it writes the test reports (of the best checkpoint, with early stopping) and the
  curves to `workdir`. Raises `preemption.Preempted` after checkpointing on SIGTERM / SIGINT,
  and `NonFiniteLoss` (saving nothing more) on a non-finite loss unless
  `config.nonfinite_loss == 'skip'`.
  """
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  trainer = Trainer(config, mesh)
  lock = (workdir_lock.exclusive(workdir) if jax.process_index() == 0
          else contextlib.nullcontext())
  with lock, preemption.StopRequest() as stop:
    return _train(config, workdir, trainer, stop)


def _train(config, workdir, trainer: Trainer, stop: preemption.StopRequest) -> TrainState:
  writer = metric_writers.create_default_writer(workdir, just_logging=jax.process_index() > 0)
  writer.write_hparams(config.to_dict() | {'model': str(config.model.to_dict())})
  manager = checkpoints.create_manager(workdir, config.keep_checkpoints)
  state = trainer.initial_state()
  restored = checkpoints.restore_latest(manager, state)
  stopper = (early_stopping.EarlyStopping(workdir, config.early_stopping_patience)
             if config.early_stopping_patience else None)
  monitored = 'val' if config.data.val_fraction else 'test'
  first_step = 0
  if restored is not None:
    state, first_step = restored, int(restored.step)
    logging.info('Resumed from the checkpoint at step %d (epoch %.2f) in %s.', first_step,
                 first_step / trainer.steps_per_epoch, manager.directory)
  if first_step >= trainer.num_steps:
    logging.info('Already trained for %d steps (%d epochs); nothing left to do.', first_step,
                 config.num_epochs)
    return state
  if stopper and stopper.stopped(first_step // trainer.steps_per_epoch):
    logging.info('Stopped early at epoch %d (best %s loss at epoch %d); nothing left to do.',
                 first_step // trainer.steps_per_epoch, monitored, stopper.best_epoch)
    return state

  logging.info('Training %d steps (%d epochs of %d steps, global batch %d) on %d devices.',
               trainer.num_steps - first_step, config.num_epochs, trainer.steps_per_epoch,
               config.batch_size, trainer.mesh.size)
  report_progress = periodic_actions.ReportProgress(num_train_steps=trainer.num_steps,
                                                    writer=writer, every_secs=30)
  batches = trainer.train_batches(first_step)
  unchecked = []  # (step, finite flag) not yet read back, so the host never waits on a step.

  def check_finite():
    for bad_step, finite in unchecked:
      if not bool(finite):
        if config.nonfinite_loss == 'skip':
          logging.warning('Step %d: non-finite loss or update; skipped it.', bad_step)
          continue
        latest = manager.latest_step()
        raise NonFiniteLoss(
            f'the loss or update at step {bad_step} is not finite (NaN or inf); stopped '
            f'without saving. The newest checkpoint ({"none" if latest is None else latest}) '
            f'is intact. Lower the learning rate, or set --config.nonfinite_loss=skip')
    unchecked.clear()

  train_metrics, last_log_step, last_log_time = None, first_step, time.time()
  for step in range(first_step + 1, trainer.num_steps + 1):
    batch = parallel.shard_batch(next(batches), trainer.mesh)
    with jax.transfer_guard('disallow'):
      state, step_metrics, finite = trainer.train_step(state, batch)
    check_finite()  # The previous step's flag: ready by now, while this step runs.
    unchecked.append((step, finite))
    train_metrics = step_metrics if train_metrics is None else train_metrics.merge(step_metrics)
    if jax.process_index() == 0:
      report_progress(step)
    if step % config.log_every_steps == 0 or step == trainer.num_steps:
      summary = {f'train_{k}': v for k, v in train_metrics.compute().items()}
      summary['train_images_per_sec'] = ((step - last_log_step) * config.batch_size
                                         / (time.time() - last_log_time))
      writer.write_scalars(step, summary)
      train_metrics, last_log_step, last_log_time = None, step, time.time()
    epoch, epoch_end = divmod(step, trainer.steps_per_epoch)
    epoch_end = epoch_end == 0 or step == trainer.num_steps
    early_stop = False
    if epoch_end and (epoch % config.eval_every_epochs == 0 or step == trainer.num_steps):
      results = trainer.evaluate_all(state)
      writer.write_scalars(step, {'epoch': epoch} | {
          f'{split}_{k}': r[k] for split, r in results.items() for k in ('loss', 'accuracy')})
      early_stop = stopper is not None and stopper.update(epoch, results[monitored]['loss'],
                                                          state)
      if early_stop:
        logging.info('Stopping early after epoch %d: the %s loss was lowest at epoch %d.',
                     epoch, monitored, stopper.best_epoch)
    stopping = _stop_requested(stop)
    if (stopping or early_stop or step == trainer.num_steps
        or (epoch_end and epoch % config.checkpoint_every_epochs == 0)
        or (config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0)):
      check_finite()
      checkpoints.save(manager, state)
    if epoch_end or stopping:
      writer.flush()
    if stopping:
      manager.wait_until_finished()
      raise preemption.Preempted(stop.signum or signal.SIGTERM, step, manager.directory)
    if early_stop:
      break
  manager.wait_until_finished()
  best = stopper.best_state(state) if stopper else None
  trainer.write_reports(state if best is None else best, workdir)
  if jax.process_index() == 0:
    plots.write_curves(workdir)
  return state


def _stop_requested(stop: preemption.StopRequest) -> bool:
  """Whether any process got a stop signal (all processes must stop at the same step)."""
  requested = stop.signum is not None
  if jax.process_count() > 1:
    requested = bool(multihost_utils.process_allgather(np.int32(requested)).max())
  return requested


def evaluate_checkpoint(config, workdir: str) -> dict[str, Any]:
  """Test metrics of the newest checkpoint in `workdir` (the best, with early stopping);
  the reports are written to `workdir` too."""
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  directory = os.path.join(workdir, 'checkpoints')
  manager = os.path.isdir(directory) and checkpoints.create_manager(workdir,
                                                                     config.keep_checkpoints)
  if not manager or manager.latest_step() is None:
    raise validation.ConfigError(f'no checkpoint in {directory}; train first '
                                 '(--mode=train) or point --workdir at a trained run')
  trainer = Trainer(config, mesh, with_train_data=False)
  state = checkpoints.restore_latest(manager, trainer.initial_state())
  if state is None:
    raise validation.ConfigError(f'no readable checkpoint in {directory} (unreadable ones were '
                                 f'moved to {directory}_unreadable)')
  if config.early_stopping_patience:
    best = early_stopping.EarlyStopping(workdir, config.early_stopping_patience).best_state(state)
    state = state if best is None else best
  return trainer.write_reports(state, workdir)
