"""The training loop: data onto the devices, chunks of steps, evaluation, checkpoints, reports.

The step code lives in `steps`; this module feeds it through the feed of the configured pipeline
(`pipelines`: dataset indices for the device pipeline, augmented batches from the host's).
Evaluation always reads device-resident images.
"""

import contextlib
import os
import signal
import time
from typing import Any

import jax
import numpy as np
import psutil
from absl import logging
from jax.experimental import multihost_utils

from resnet_jax import (checkpoints, cifar10, data_sources, device_data, early_stopping,
                        event_files, models, optim, parallel, pipelines, plots, preemption,
                        profiling, reports, run_config, run_record, steps, validation,
                        workdir_lock)
from resnet_jax.errors import ConfigError, NonFiniteLoss


# Training images a whitening stem is computed from (as airbench).
WHITENING_IMAGES = 5000


def _next_multiple(step: int, every: int) -> int:
  return (step // every + 1) * every


class Trainer:
  """Everything a run needs, built from a validated config: data on the devices, compiled steps.

  `data` replaces the config's source with {'train': (images, labels), 'val': ..., 'test': ...}
  (uint8 images; any of the splits), as the benchmark's synthetic data does. Its arrays may be
  on the devices already (a search's worker places them once, for all its trials): they are then
  used as they are.
  """

  def __init__(self, config, mesh, *, with_train_data: bool = True, data=None):
    self.config, self.mesh = config, mesh
    self.pipeline = pipelines.choose(config)
    data = data or load_splits(config, with_train_data=with_train_data)
    self.num_val = len(data['val'][0]) if 'val' in data else 0
    replicated = parallel.replicated(mesh)
    self.eval_sets = {}
    for split, (images, labels) in data.items():
      if split != 'train':
        indices, mask = device_data.eval_indices(len(images), config.eval_batch_size)
        self.eval_sets[split] = (
            parallel.put_global({'image': images, 'label': labels}, replicated),
            [parallel.put_global({'index': i, 'mask': m}, parallel.batch_sharding(mesh))
             for i, m in zip(indices, mask)])
    self.steps_per_epoch, self.feed = 1, None
    self._whitening_kernel = None  # A whitening stem's, from the training images.
    if 'train' in data:
      images, labels = data['train']
      self.num_train = len(images)
      if config.model.whitening:  # On the host, where the images are: once, no device trip.
        self._whitening_kernel = models.patch_whitening_kernel(
            cifar10.normalize(images[:WHITENING_IMAGES]))
      self.feed = pipelines.create(config, mesh, images, labels)
      self.steps_per_epoch = self.feed.steps_per_epoch
      if self.steps_per_epoch == 0:
        raise ConfigError(
            f'config.batch_size={config.batch_size} is larger than the training set '
            f'({len(images)} images); lower it')
    self.num_steps = round(self.steps_per_epoch * config.num_epochs)  # Epochs may be fractional.
    self.steps = steps.build(config, mesh, steps_per_epoch=self.steps_per_epoch,
                             num_steps=self.num_steps,
                             batch_in_step=self.feed and self.feed.batch_in_step)

  def initial_state(self) -> steps.TrainState:
    return self.steps.init_state(self._whitening_kernel)

  def chunk_end(self, start: int) -> int:
    """Where the chunk of steps from `start` ends: after `steps_per_dispatch` steps, or at the
    first epoch end, log step, checkpoint step, profiled steps' bound or end of training before
    that."""
    config = self.config
    ends = [start + self.steps.steps_per_dispatch, self.num_steps,
            _next_multiple(start, self.steps_per_epoch),
            _next_multiple(start, config.log_every_steps)]
    ends += [bound for bound in profiling.boundaries(config.profile_steps) if bound > start]
    if config.checkpoint_every_steps:
      ends.append(_next_multiple(start, config.checkpoint_every_steps))
    return min(ends)

  def train_chunk(self, state, start: int, end: int):
    """Trains steps `start` .. `end - 1` (one dispatch): (state, TrainMetrics, finite flags)."""
    dataset, chunk = self.feed.chunk(start, end, self.steps.steps_per_dispatch)
    num_steps = parallel.put_global(np.int32(end - start), parallel.replicated(self.mesh))
    with jax.transfer_guard('disallow'):  # Every transfer above is explicit.
      return self.steps.train_chunk(state, dataset, chunk, num_steps)

  def evaluate(self, state: steps.TrainState, split: str = 'test') -> steps.EvalMetrics:
    """Metrics over every image of `split` ('test', or 'val' if held out) exactly once."""
    return self._evaluate(state, split)[0]

  def evaluate_with_probabilities(self, state: steps.TrainState, split: str = 'test'
                                  ) -> tuple[steps.EvalMetrics, np.ndarray]:
    """As `evaluate`, and each image's predicted probabilities, in the order of
    `eval_images(split)` (in one pass)."""
    total, probabilities = self._evaluate(state, split)
    num_images = self.eval_sets[split][0]['label'].shape[0]
    return total, np.concatenate([_local_copy(p) for p in probabilities])[:num_images]

  def _evaluate(self, state, split):
    dataset, batches = self.eval_sets[split]
    total, probabilities = None, []
    for batch in batches:
      batch_metrics, batch_probabilities = self.steps.evaluate(state, dataset, batch['index'],
                                                               batch['mask'])
      total = batch_metrics if total is None else merged(total, batch_metrics)
      probabilities.append(batch_probabilities)
    return total, probabilities

  def eval_images(self, split: str = 'test') -> tuple[np.ndarray, np.ndarray]:
    """The uint8 images and labels of `split`, on the host."""
    dataset = self.eval_sets[split][0]
    return _local_copy(dataset['image']), _local_copy(dataset['label'])

  def evaluate_all(self, state: steps.TrainState) -> dict[str, dict[str, Any]]:
    """Summaries of every eval split, and of the test split with the EMA weights if kept."""
    results = {split: eval_summary(self.evaluate(state, split)) for split in self.eval_sets}
    if state.ema is not None and 'test' in self.eval_sets:
      results['test_ema'] = eval_summary(self.evaluate(steps.ema_weights(state)))
    return results

  def write_reports(self, state: steps.TrainState, workdir: str,
                    selected_by: str) -> dict[str, dict[str, Any]]:
    """Writes the test reports of `state` (and of its EMA weights if kept), saying how that
    checkpoint was chosen; returns them as {'test': ..., 'test_ema': ...}."""
    step = int(state.step)
    variants = [('test', 'report', f'Test results at step {step}', state)]
    if state.ema is not None:
      variants.append(('test_ema', 'report_ema', f'Test results of the EMA weights at step {step}',
                       steps.ema_weights(state)))
    summaries = {}
    images, labels = self.eval_images()  # For the pictures of mistakes: once for both reports.
    for split, name, title, weights in variants:
      eval_metrics, probabilities = self.evaluate_with_probabilities(weights)
      summaries[split] = ({'step': step, 'selected_by': selected_by}
                          | eval_summary(eval_metrics))
      if jax.process_index() == 0:
        reports.write(workdir, summaries[split], name=name, title=title,
                      predictions=(images, labels, probabilities))
    return summaries


def load_splits(config, *, with_train_data: bool = True, with_test: bool = True
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """The config's splits, whole on every process: uint8 images and int32 labels. 'train' and,
  if the config holds some of it out, 'val' (`with_train_data`); 'test' (`with_test`)."""
  data = {'test': data_sources.load_split(config.data, 'test')} if with_test else {}
  if with_train_data:
    data['train'] = data_sources.load_split(config.data, 'train',
                                            fraction=config.data.train_fraction)
    val_fraction = early_stopping.validation_fraction(config)
    if val_fraction:
      data['train'], data['val'] = data_sources.split_validation(
          *data['train'], val_fraction, config.seed)
  return data


def _local_copy(replicated: jax.Array) -> np.ndarray:
  """A replicated global array on this host (each process holds all of it)."""
  return np.asarray(replicated.addressable_data(0))


def eval_summary(eval_metrics: steps.EvalMetrics) -> dict[str, Any]:
  """Loss, accuracy, per-class accuracy and confusion matrix (true x predicted) as numbers."""
  computed = eval_metrics.compute()
  confusion = np.rint(np.asarray(computed['confusion'])).astype(int)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
  return {'loss': float(computed['loss']), 'accuracy': float(computed['accuracy']),
          'per_class_accuracy': dict(zip(cifar10.CLASS_NAMES, per_class.tolist())),
          'num_images': int(confusion.sum()), 'confusion_matrix': confusion.tolist()}


def train_and_evaluate(config, workdir: str, *, data=None, on_epoch=None,
                       started: float | None = None, progress=None) -> steps.TrainState:
  """Trains (resuming from the newest checkpoint in `workdir`), evaluates, checkpoints.

  At the end it writes the test reports (of the best checkpoint, with early stopping) and the
  curves to `workdir`. Raises `preemption.Preempted` after checkpointing on SIGTERM / SIGINT,
  and `NonFiniteLoss` (saving nothing more) on a non-finite loss unless
  `config.nonfinite_loss == 'skip'`.

  A search's trial passes `data` (the splits, as `Trainer` takes them: without 'test', so
  selection never sees the test set, and no test report is written), `on_epoch(epoch, results)`,
  called after each epoch's evaluation with `Trainer.evaluate_all`'s results, which returns
  True to stop the run there (its pruner: the run is checkpointed and recorded as pruned), and
  `started`, the Unix time its start-up counts from (default: the process's launch).

  `progress` (the command line's `console.TrainingConsole`) hears of the run on process 0: its
  set-up once, `start(**facts)`; `update(step)` at step boundaries; `end_epoch(metrics)` after
  each epoch; `end(results, ...)` after the final reports. Without it the run prints nothing.
  """
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  trainer = Trainer(config, mesh, data=data)
  lock = (workdir_lock.exclusive(workdir) if jax.process_index() == 0
          else contextlib.nullcontext())
  with lock, preemption.StopRequest() as stop:
    return _train(config, workdir, trainer, stop, on_epoch=on_epoch,
                  started=_launched() if started is None else started,
                  progress=progress if jax.process_index() == 0 else None)


def _train(config, workdir, trainer: Trainer, stop: preemption.StopRequest, *, on_epoch,
           started: float, progress) -> steps.TrainState:
  profile = profiling.StepTrace(workdir, config.profile_steps, trainer.num_steps)
  manager = checkpoints.create_manager(workdir, config.keep_checkpoints)
  state = trainer.initial_state()
  restored = checkpoints.restore_latest(manager, state)  # Refuses another model's checkpoint.
  if jax.process_index() == 0:
    run_config.save(config, workdir)  # --mode=eval, summary and resuming need no --config.
  stopper = (early_stopping.EarlyStopping(workdir, config.early_stopping_patience)
             if config.early_stopping_patience else None)
  first_step = 0
  if restored is not None:
    state, first_step = restored, int(restored.step)
    logging.info('Resumed from the checkpoint at step %d (epoch %.2f) in %s.', first_step,
                 first_step / trainer.steps_per_epoch, manager.directory)
  if first_step >= trainer.num_steps:
    logging.info('Already trained for %d steps (%g epochs); nothing left to do.', first_step,
                 config.num_epochs)
    return state
  if stopper and stopper.stopped(first_step // trainer.steps_per_epoch):
    logging.info('Stopped early at epoch %d (best validation loss at epoch %d); nothing left '
                 'to do.', first_step // trainer.steps_per_epoch, stopper.best_epoch)
    return state

  writer = event_files.Writer(workdir, enabled=jax.process_index() == 0)  # TensorBoard's.
  writer.write_hparams(config.to_dict() | {'model': str(config.model.to_dict())})
  record = run_record.Session(workdir, first_step=first_step, num_steps=trainer.num_steps,
                              steps_per_epoch=trainer.steps_per_epoch,
                              enabled=jax.process_index() == 0)  # run.json, for --mode=runs.
  if progress:
    progress.start(
        num_devices=trainer.mesh.size, platform=jax.default_backend(), model_config=config.model,
        num_params=models.count_params(optim.slow_params(state.params)),
        data=config.data.dir or 'tfds cifar10',
        pipeline=trainer.pipeline, num_train=trainer.num_train, num_val=trainer.num_val,
        val_note=('held out for early stopping: config.data.val_fraction is 0, so '
                  f'{early_stopping.DEFAULT_VAL_FRACTION:.0%} by default'
                  if stopper and not config.data.val_fraction else ''),
        num_steps=trainer.num_steps, steps_per_epoch=trainer.steps_per_epoch,
        batch_size=config.batch_size, first_step=first_step)
  last_train = {}  # The latest logged train metrics, for the epoch's console line.
  unchecked = []  # (first step, finite flags) of chunks not yet read back: the host never
                  # waits on the chunk it just dispatched.

  def check_finite():
    for start, count, finite in unchecked:
      for offset in np.flatnonzero(~np.asarray(finite)[:count]):
        bad_step = start + int(offset) + 1
        if config.nonfinite_loss == 'skip':
          logging.warning('Step %d: non-finite loss or update; skipped it.', bad_step)
          continue
        latest = manager.latest_step()
        raise NonFiniteLoss(
            'the loss or update at step %s is not finite (NaN or inf); stopped without saving. '
            'The newest checkpoint (%s) is intact. Lower the learning rate, or set '
            'config.nonfinite_loss=skip', bad_step, 'none' if latest is None else latest,
            arguments=('config.nonfinite_loss',))
    unchecked.clear()

  train_metrics, last_log_step, last_log_time = None, first_step, time.time()
  start, startup_secs = first_step, None
  while start < trainer.num_steps:
    step = trainer.chunk_end(start)
    profile.before_chunk(start, state)
    state, chunk_metrics, finite = trainer.train_chunk(state, start, step)
    profile.after_chunk(step, state)
    if startup_secs is None:  # What a user waits before training runs: imports, data, compiling.
      jax.block_until_ready(finite)
      startup_secs = time.time() - started
      logging.info('Start-up took %.1f s, from launch to the end of the first %s (imports, data '
                   'loading, compilation).' if on_epoch is None else
                   'Start-up took %.1f s, from the trial\'s start to the end of the first %s '
                   '(building and compiling the steps).', startup_secs,
                   'step' if step - start == 1 else f'{step - start} steps')
      writer.write_scalars(step, {'startup_seconds': startup_secs})
    check_finite()  # The previous chunk's flags: ready by now, while this chunk runs.
    unchecked.append((start, step - start, finite))
    start = step
    train_metrics = (chunk_metrics if train_metrics is None
                     else merged(train_metrics, chunk_metrics))
    if progress:
      progress.update(step)
    if step % config.log_every_steps == 0 or step == trainer.num_steps:
      summary = {f'train_{k}': v for k, v in train_metrics.compute().items()}
      summary['train_images_per_sec'] = ((step - last_log_step) * config.batch_size
                                         / (time.time() - last_log_time))
      writer.write_scalars(step, summary)
      last_train = {k: summary[k] for k in ('train_loss', 'train_accuracy')}
      train_metrics, last_log_step, last_log_time = None, step, time.time()
    epoch, epoch_end = divmod(step, trainer.steps_per_epoch)
    epoch_end = epoch_end == 0 or step == trainer.num_steps
    early_stop, pruned, evaluated = False, False, {}
    if epoch_end and (epoch % config.eval_every_epochs == 0 or step == trainer.num_steps):
      results = trainer.evaluate_all(state)
      evaluated = {f'{split}_{k}': r[k] for split, r in results.items()
                   for k in ('loss', 'accuracy')}
      writer.write_scalars(step, {'epoch': step / trainer.steps_per_epoch} | evaluated)
      early_stop = stopper is not None and stopper.update(epoch, results['val']['loss'], state)
      if early_stop:
        logging.info('Stopping early after epoch %d: the validation loss was lowest at epoch %d.',
                     epoch, stopper.best_epoch)
      pruned = on_epoch is not None and on_epoch(epoch, results) and step < trainer.num_steps
    if epoch_end:
      if train_metrics is not None:  # Steps not logged yet: their metrics are the freshest.
        last_train = {f'train_{k}': v for k, v in train_metrics.compute().items()
                      if k in ('loss', 'accuracy')}
      if progress:
        progress.end_epoch(last_train | evaluated)
    stopping = _stop_requested(stop)
    if (stopping or early_stop or pruned or step == trainer.num_steps
        or (epoch_end and epoch % config.checkpoint_every_epochs == 0)
        or (config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0)):
      check_finite()
      checkpoints.save(manager, state)
    if epoch_end or stopping:
      writer.flush()
      record.update(step)
    if stopping:
      manager.wait_until_finished()
      raise preemption.Preempted(stop.signum or signal.SIGTERM, step, manager.directory)
    if early_stop or pruned:
      break
  check_finite()
  manager.wait_until_finished()
  writer.close()
  outcome = (run_record.PRUNED if pruned else run_record.STOPPED_EARLY if early_stop
             else run_record.FINISHED)
  if 'test' not in trainer.eval_sets:  # A search's trial: the search reports it.
    record.end(step, outcome=outcome)
    return state
  best = stopper.best_state(state) if stopper else None
  results = (trainer.write_reports(state, workdir, 'the newest checkpoint') if best is None
             else trainer.write_reports(best, workdir, stopper.selected_by()))
  record.end(step, outcome=outcome)
  if jax.process_index() == 0:
    plots.write_curves(workdir)
  if progress:
    progress.end(results, wall_secs=time.time() - started, startup_secs=startup_secs,
                 workdir=workdir, checkpoints=os.path.join(workdir, checkpoints.LATEST),
                 tta_views=device_data.num_tta_views(flip=config.tta_flip,
                                                     shift=config.tta_shift))
  return state


@jax.jit
def merged(total, more):
  """`total.merge(more)` (clu metrics) in one dispatch: clu merges a field at a time, one
  dispatch each, which on a CPU costs more than evaluating a small batch."""
  return total.merge(more)


def _launched() -> float:
  """When this process started (Unix time): a run's times count from the launch, imports
  included (a search's trials count from their own start)."""
  return psutil.Process().create_time()


def _stop_requested(stop: preemption.StopRequest) -> bool:
  """Whether any process got a stop signal (all processes must stop at the same step)."""
  requested = stop.signum is not None
  if jax.process_count() > 1:
    requested = bool(multihost_utils.process_allgather(np.int32(requested)).max())
  return requested


def evaluate_checkpoint(config, workdir: str, *, note: str = '') -> dict[str, dict[str, Any]]:
  """Test metrics of the newest checkpoint in `workdir` (the best, with early stopping), as the
  reports it writes to `workdir` (--mode=eval): {'test': ..., and 'test_ema': ... if kept}. The
  reports say how the checkpoint was chosen, and `note` (a search's: why it is tested)."""
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  directory = os.path.join(workdir, checkpoints.LATEST)  # As given, in the message below.
  manager = os.path.isdir(directory) and checkpoints.create_manager(workdir,
                                                                     config.keep_checkpoints)
  if not manager or manager.latest_step() is None:
    raise ConfigError('no checkpoint in %s; train first (mode=train) or point workdir at a '
                      'trained run', directory, arguments=('mode', 'workdir'))
  trainer = Trainer(config, mesh, with_train_data=False)
  state = checkpoints.restore_latest(manager, trainer.initial_state())  # Or a ConfigError.
  selected_by = 'the newest checkpoint'
  if checkpoints.default_kind(config, workdir) == checkpoints.BEST:
    stopper = early_stopping.EarlyStopping(workdir, config.early_stopping_patience)
    best = stopper.best_state(state)
    if best is not None:
      state, selected_by = best, stopper.selected_by()
  return trainer.write_reports(state, workdir, f'{selected_by}; {note}' if note else selected_by)
