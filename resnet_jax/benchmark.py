"""`--mode=benchmark`: how fast a config trains here, on synthetic data (no dataset needed).

Times the compiled train and eval steps on the current backend (median of timed steps after
warm-up, each blocking on its results) and, on its own, the input pipeline with the config's
augmentation. Every data source is held in memory as uint8 arrays before the pipeline runs, so
synthetic images cost the pipeline exactly what real ones do.
"""

import json
import os
import statistics
import time

import jax
import numpy as np

from resnet_jax import cifar10, input_pipeline, models, optim, parallel, train, validation


def _median_seconds(run_step, *, warmup: int, steps: int) -> float:
  for _ in range(warmup):
    run_step()
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    run_step()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _synthetic_batch(batch_size: int, mesh, rng: np.random.Generator, *, eval_mask=False):
  """This process's share of a global batch of random images, on the mesh."""
  local = batch_size // jax.process_count()
  batch = {'image': rng.normal(size=(local, *cifar10.IMAGE_SHAPE)).astype(np.float32),
           'label': rng.integers(0, 10, local).astype(np.int32)}
  if eval_mask:
    batch['mask'] = np.ones(local, np.float32)
  return parallel.shard_batch(batch, mesh)


def compiled_steps(config, mesh):
  """(train step compile seconds, run one train step, run one eval step), each run blocking."""
  rng = np.random.default_rng(config.seed)
  learning_rate_fn = optim.learning_rate_schedule(config.optimizer, 1, config.num_epochs)
  state = parallel.replicate(
      train.create_train_state(config, train.create_model(config), learning_rate_fn), mesh)
  train_step, eval_step = train.make_steps(config, mesh, learning_rate_fn, config.num_epochs)
  batch = _synthetic_batch(config.batch_size, mesh, rng)
  start = time.perf_counter()
  train_step = train_step.lower(state, batch).compile()
  compile_s = time.perf_counter() - start

  def run_train_step():
    nonlocal state
    state, *outputs = train_step(state, batch)
    jax.block_until_ready((state, outputs))

  eval_batch = _synthetic_batch(config.eval_batch_size, mesh, rng, eval_mask=True)
  return compile_s, run_train_step, lambda: jax.block_until_ready(eval_step(state, eval_batch))


def input_pipeline_images_per_sec(config) -> float:
  """Images/s of this process's augmented training batches, with nothing else running."""
  batch_size = config.batch_size // jax.process_count()
  warmup, timed = config.benchmark.warmup_steps, config.benchmark.pipeline_batches
  rng = np.random.default_rng(config.seed)
  num_images = (warmup + timed) * batch_size
  batches = input_pipeline.train_batches(
      rng.integers(0, 256, (num_images, *cifar10.IMAGE_SHAPE), dtype=np.uint8),
      rng.integers(0, 10, num_images).astype(np.int32), batch_size=batch_size,
      augment_config=config.augment, seed=config.seed)
  for _ in range(warmup):
    next(batches)
  start = time.perf_counter()
  for _ in range(timed):
    next(batches)
  return timed * batch_size / (time.perf_counter() - start)


def run(config, workdir: str | None = None) -> dict:
  """Benchmarks `config` on every device; writes `workdir/benchmark.json` if a workdir is given."""
  mesh = parallel.make_mesh()
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  results = {
      'backend': jax.default_backend(), 'device_kind': jax.devices()[0].device_kind,
      'num_devices': mesh.size, 'batch_size': config.batch_size,
      'eval_batch_size': config.eval_batch_size, 'half_precision': config.half_precision,
      'relu': models.relu_form(config.model),
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
  }
  compile_s, run_train_step, run_eval_step = compiled_steps(config, mesh)
  timing = dict(warmup=config.benchmark.warmup_steps, steps=config.benchmark.steps)
  results |= {
      'train_step_compile_s': compile_s,
      'train_images_per_sec': config.batch_size / _median_seconds(run_train_step, **timing),
      'eval_images_per_sec': config.eval_batch_size / _median_seconds(run_eval_step, **timing),
      'input_pipeline_images_per_sec': (input_pipeline_images_per_sec(config)
                                        * jax.process_count()),
      'load_avg_1min': os.getloadavg()[0],
  }
  if workdir and jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'benchmark.json'), 'w') as f:
      json.dump(results, f, indent=2)
  return results


def table(results: dict) -> str:
  """The results as a small markdown table under a line saying what ran where."""
  ratio = results['input_pipeline_images_per_sec'] / results['train_images_per_sec']
  rows = [
      ('train step compile', f'{results["train_step_compile_s"]:.1f} s'),
      ('train images/s', f'{results["train_images_per_sec"]:.1f}'),
      ('eval images/s', f'{results["eval_images_per_sec"]:.1f}'),
      ('input pipeline images/s', f'{results["input_pipeline_images_per_sec"]:.0f} '
                                  f'({ratio:.0f}x train)'),
  ]
  precision = 'bf16' if results['half_precision'] else 'fp32'
  header = (f'{results["num_devices"]} {results["backend"]} device(s) '
            f'({results["device_kind"]}), batch {results["batch_size"]} '
            f'(eval {results["eval_batch_size"]}), {precision}, '
            f'relu={results["relu"]}, '
            f'XLA_FLAGS={results["xla_flags"] or "(none)"}, load {results["load_avg_1min"]:.1f}')
  return '\n'.join([header, '', '| measure | value |', '|---|---|']
                   + [f'| {name} | {value} |' for name, value in rows])
