"""The train state, its metrics, and the jitted steps, all built from a config in one place.

Steps are written as single-device code over global arrays: `jax.jit` with the state
replicated and batches split over the mesh (`parallel`), so the loss and BatchNorm statistics
are over the global batch and XLA inserts the collectives. Training runs in chunks of up to
`steps_per_dispatch` steps per call (a `fori_loop` on device), each step taking its batch from
device-resident data or from host batches handed over for the chunk (`pipelines`).
"""

import dataclasses
import functools
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax
from clu import metrics
from flax.training import train_state

from resnet_jax import cifar10, device_data, mixing, models, optim, parallel

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


def train_step(state: TrainState, batch, *, learning_rate_fn, label_smoothing: float = 0.0,
               seed: int = 0, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0,
               dropblock_rate_fn=None, ema_decay: float = 0.0):
  """One optimizer step on a global batch: (new state, the step's metrics, finite flag).

  A non-finite loss or update never reaches the state: the step is skipped (only the step
  counter advances) and its flag says so. Random numbers (mixing, dropout, DropBlock) are a
  function of (seed, step), so a resumed run draws what an unbroken one would.
  """
  mix_key, dropout_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), state.step))
  images, perm, weight = mixing.mix(mix_key, batch['image'], mixup_alpha=mixup_alpha,
                                    cutmix_alpha=cutmix_alpha)
  dropblock_rate = dropblock_rate_fn(state.step) if dropblock_rate_fn else 0.0

  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, images, train=True,
        dropblock_rate=dropblock_rate, mutable=['batch_stats'], rngs={'dropout': dropout_key})
    targets = mixing.mix_targets(jax.nn.one_hot(batch['label'], logits.shape[-1]), perm, weight)
    return cross_entropy(logits, targets, label_smoothing).mean(), (logits,
                                                                    updates['batch_stats'])

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      optim.fast_params(state.params))
  step_metrics = TrainMetrics.single_from_model_output(
      loss=loss, accuracy=jnp.mean(jnp.argmax(logits, -1) == batch['label']),
      learning_rate=learning_rate_fn(state.step))
  updated = state.apply_gradients(grads=grads, batch_stats=batch_stats)
  if ema_decay:
    updated = updated.replace(ema=optax.incremental_update(
        {'params': optim.slow_params(updated.params), 'batch_stats': batch_stats}, state.ema,
        1 - ema_decay))
  finite = jnp.isfinite(loss) & jnp.all(jnp.array(
      [jnp.isfinite(x).all() for x in jax.tree.leaves((updated.params, updated.batch_stats))]))
  skipped = state.replace(step=state.step + 1)
  new_state = jax.tree.map(lambda u, s: jnp.where(finite, u, s), updated, skipped)
  return new_state, step_metrics, finite


def tta_log_probs(apply_fn, variables, images, *, tta_flip: bool = False, tta_shift: int = 0):
  """Log of the mean predicted probabilities over the test-time views of normalized `images`
  (`device_data.tta_views`): what evaluation scores and what a trained model predicts."""
  views = device_data.tta_views(images, flip=tta_flip, shift=tta_shift)
  log_probs = [jax.nn.log_softmax(apply_fn(variables, view, train=False)) for view in views]
  return jax.nn.logsumexp(jnp.stack(log_probs), axis=0) - jnp.log(len(views))


def eval_step(state: TrainState, batch, *, tta_flip: bool = False,
              tta_shift: int = 0) -> tuple[EvalMetrics, jax.Array]:
  """Metrics of one batch of normalized images (sums over unmasked images, so they merge), and
  each image's predicted probabilities (for the reports' pictures of mistakes).

  With test-time augmentation (`tta_flip`, `tta_shift`: `device_data.tta_views`) an image
  scores the mean of the predicted probabilities of its views.
  """
  # Under Lookahead, of the slow weights. Log-probabilities serve as logits from here on.
  logits = tta_log_probs(
      state.apply_fn, {'params': optim.slow_params(state.params), 'batch_stats': state.batch_stats},
      batch['image'], tta_flip=tta_flip, tta_shift=tta_shift)
  labels = jax.nn.one_hot(batch['label'], logits.shape[-1])
  return EvalMetrics.single_from_model_output(
      logits=logits, labels=batch['label'], mask=batch['mask'],
      loss=cross_entropy(logits, labels)), jnp.exp(logits)


def ema_weights(state: TrainState) -> TrainState:
  """The state with its averaged weights in place of the trained ones, for evaluation."""
  return state.replace(params=state.ema['params'], batch_stats=state.ema['batch_stats'])


def create_train_state(config, model: models.ResNet, learning_rate_fn,
                       whitening_kernel=None) -> TrainState:
  """Freshly initialized parameters, BatchNorm statistics and optimizer state.

  A whitening model needs its `whitening_kernel` (`models.patch_whitening_kernel`); a state that
  is only a template to restore a checkpoint into may go without.
  """
  @jax.jit
  def init(whitening_kernel):
    variables = model.init(jax.random.key(config.seed), jnp.zeros((1, *cifar10.IMAGE_SHAPE)),
                           train=False)
    if whitening_kernel is not None:
      variables['batch_stats']['stem_whitening']['kernel'] = whitening_kernel
    return TrainState.create(apply_fn=model.apply,
                             params=optim.initial_params(config.optimizer, variables['params']),
                             batch_stats=variables['batch_stats'],
                             tx=optim.create_optimizer(config.optimizer, learning_rate_fn),
                             ema=dict(variables) if config.ema_decay else None)
  # The state is made on one device and then replicated, so the partitionable threefry
  # generator buys nothing here, and XLA compiles it about 5x slower on CPU (26 s against 5 s
  # for a tiny ResNet on a 2-core machine).
  with jax.threefry_partitionable(False):
    return init(whitening_kernel)


def steps_per_dispatch(config) -> int:
  """Steps per call of the train chunk: 1 on CPU, where a step takes seconds (and XLA:CPU runs
  one several times slower inside a loop); many on accelerators, where a step takes
  milliseconds and the host would otherwise sit between steps."""
  if config.steps_per_dispatch:
    return config.steps_per_dispatch
  return 1 if jax.default_backend() == 'cpu' else 32


@dataclasses.dataclass(frozen=True)
class Steps:
  """What a run (or a benchmark) executes; see `build`."""
  model: models.ResNet
  steps_per_dispatch: int
  # (whitening kernel or None) -> fresh state, replicated on the mesh (see create_train_state).
  init_state: Callable
  # (state, dataset, chunk, num_steps) -> (state, TrainMetrics, finite flag per chunk row):
  # trains the first `num_steps` rows of `chunk` (dataset indices, or host batches).
  train_chunk: Callable
  train_step: Callable  # (state, batch) -> (state, TrainMetrics, finite): one host batch.
  # (state, dataset, indices, mask) -> (EvalMetrics of the batch dataset[indices] (sums),
  # each image's predicted probabilities).
  evaluate: Callable


def build(config, mesh, *, steps_per_epoch: int, num_steps: int,
          batch_in_step: Callable | None = None) -> Steps:
  """The model, the schedule, and the jitted steps that `config` asks for on `mesh`.

  `batch_in_step(dataset, row, step)` makes a chunk row into the batch of step `step` inside the
  jitted chunk (`pipelines`: the device pipeline gathers and augments it there); without it the
  rows are the batches.
  """
  # Under half precision it computes in bf16; parameters, BatchNorm statistics and the logits
  # (so the loss) stay fp32.
  model = models.create_model(config.model, half_precision=config.half_precision)
  learning_rate_fn = optim.learning_rate_schedule(config.optimizer, steps_per_epoch,
                                                  config.num_epochs)
  step = functools.partial(
      train_step, learning_rate_fn=learning_rate_fn, label_smoothing=config.label_smoothing,
      seed=config.seed, mixup_alpha=config.augment.mixup_alpha,
      cutmix_alpha=config.augment.cutmix_alpha,
      dropblock_rate_fn=optax.linear_schedule(0.0, config.model.dropblock_rate, num_steps),
      ema_decay=config.ema_decay)
  replicated, batch = parallel.replicated(mesh), parallel.batch_sharding(mesh)

  def chunk_fn(state, dataset, chunk, num_steps):
    def step_on_row(state, i):
      row = jax.tree.map(lambda x: x[i], chunk)
      if batch_in_step is not None:
        row = batch_in_step(dataset, row, state.step)
      return step(state, jax.lax.with_sharding_constraint(row, batch))

    rows = jax.tree.leaves(chunk)[0].shape[0]
    if rows == 1:  # XLA:CPU runs a ResNet step inside a loop many times slower than outside.
      state, step_metrics, finite = step_on_row(state, 0)
      return state, step_metrics, finite[None]

    def body(i, carry):
      state, chunk_metrics, finite = carry
      state, step_metrics, step_finite = step_on_row(state, i)
      return state, chunk_metrics.merge(step_metrics), finite.at[i].set(step_finite)

    return jax.lax.fori_loop(0, num_steps, body,
                             (state, TrainMetrics.empty(), jnp.ones((rows,), bool)))

  def evaluate_fn(state, dataset, indices, mask):
    images = cifar10.normalize(dataset['image'][indices])
    eval_batch = jax.lax.with_sharding_constraint(
        {'image': images, 'label': dataset['label'][indices], 'mask': mask}, batch)
    return eval_step(state, eval_batch, tta_flip=config.tta_flip, tta_shift=config.tta_shift)

  def init_state(whitening_kernel=None):
    return parallel.replicate(
        create_train_state(config, model, learning_rate_fn, whitening_kernel), mesh)

  return Steps(
      model=model, steps_per_dispatch=steps_per_dispatch(config), init_state=init_state,
      train_chunk=jax.jit(chunk_fn, donate_argnums=0,
                          out_shardings=(replicated, replicated, replicated)),
      train_step=jax.jit(step, donate_argnums=0,
                         out_shardings=(replicated, replicated, replicated)),
      evaluate=jax.jit(evaluate_fn, out_shardings=replicated))
