"""`--mode=benchmark`: how fast a config trains here, on synthetic data (no dataset needed).

Times, on the current backend: the compiled train and eval steps on their own (median of timed
steps after warm-up, each blocking on its results); training through the real loop and data
path (`train.Trainer`'s chunks of steps, with the config's pipeline and augmentation) over
`config.benchmark.loop_steps` steps; and the host input pipeline on its own. XLA's cost analysis
gives the FLOPs of a trained image, and so the TFLOP/s achieved. Synthetic uint8 images cost
the pipelines exactly what real ones do.
"""

import json
import os
import statistics
import time

import jax
import numpy as np

from resnet_jax import (cifar10, cpu_tuning, device_data, input_pipeline, parallel, train,
                        validation)


def _median_seconds(run_step, *, warmup: int, steps: int) -> float:
  for _ in range(warmup):
    run_step()
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    run_step()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _flops(compiled) -> float:
  """XLA's FLOP count of a compiled computation (older jax wraps it in a list)."""
  analysis = compiled.cost_analysis()
  return (analysis[0] if isinstance(analysis, list) else analysis)['flops']


def step_timings(config, trainer: train.Trainer) -> dict:
  """Compile time, FLOPs per trained image, and images/s of the train and eval steps alone."""
  rng = np.random.default_rng(config.seed)
  built = trainer.steps
  state = built.init_state()
  batch = parallel.put_global(
      {'image': rng.normal(size=(config.batch_size, *cifar10.IMAGE_SHAPE)).astype(np.float32),
       'label': rng.integers(0, 10, config.batch_size).astype(np.int32)},
      parallel.batch_sharding(trainer.mesh))
  start = time.perf_counter()
  train_step = built.train_step.lower(state, batch).compile()
  compile_s = time.perf_counter() - start

  def run_train_step():
    nonlocal state
    state, *outputs = train_step(state, batch)
    jax.block_until_ready((state, outputs))

  timing = dict(warmup=config.benchmark.warmup_steps, steps=config.benchmark.steps)
  train_s = _median_seconds(run_train_step, **timing)
  eval_s = _median_seconds(lambda: jax.block_until_ready(trainer.evaluate(state)), **timing)
  return {'train_step_compile_s': compile_s,
          'flops_per_image': _flops(train_step) / config.batch_size,
          'train_step_images_per_sec': config.batch_size / train_s,
          'eval_images_per_sec': config.eval_batch_size / eval_s}


def loop_images_per_sec(config, trainer: train.Trainer) -> float:
  """Training images/s through the run's loop: chunks of steps fed by the configured pipeline,
  each chunk's finite flags read back while the next one runs, as `train` does; up to
  `benchmark.loop_steps` steps, ending with the chunk that passes `benchmark.loop_seconds`."""
  state = trainer.initial_state()
  state, _, finite = trainer.train_chunk(state, 0, trainer.chunk_end(0))  # Compiles.
  jax.block_until_ready((state, finite))
  start_step = step = int(state.step)
  end_step = min(start_step + config.benchmark.loop_steps, trainer.num_steps)
  start, pending = time.perf_counter(), None
  while step < end_step and time.perf_counter() - start < config.benchmark.loop_seconds:
    chunk_end = min(trainer.chunk_end(step), end_step)
    state, chunk_metrics, finite = trainer.train_chunk(state, step, chunk_end)
    if pending is not None:
      np.asarray(pending)
    pending, step = finite, chunk_end
  jax.block_until_ready((state, chunk_metrics, finite))
  return (step - start_step) * config.batch_size / (time.perf_counter() - start)


def input_pipeline_images_per_sec(config, images, labels) -> float:
  """Images/s of this process's augmented host batches, with nothing else running."""
  batch_size = config.batch_size // jax.process_count()
  warmup, timed = config.benchmark.warmup_steps, config.benchmark.pipeline_batches
  batches = input_pipeline.train_batches(
      images, labels, batch_size=config.batch_size, augment_config=config.augment,
      seed=config.seed, process_index=jax.process_index(), process_count=jax.process_count())
  for _ in range(warmup):
    next(batches)
  start = time.perf_counter()
  for _ in range(timed):
    next(batches)
  return timed * batch_size / (time.perf_counter() - start)


def run(config, workdir: str | None = None) -> dict:
  """Benchmarks `config` on every device; writes `workdir/benchmark.json` if a workdir is given."""
  mesh = parallel.make_mesh()
  validation.check_benchmark(config)
  validation.check_config(config, num_devices=mesh.size, process_count=jax.process_count())
  images, labels = device_data.synthetic(config.benchmark.dataset_size, config.seed)
  trainer = train.Trainer(config, mesh, data={
      'train': (images, labels), 'test': (images[:config.eval_batch_size],
                                          labels[:config.eval_batch_size])})
  results = {
      'backend': jax.default_backend(), 'device_kind': jax.devices()[0].device_kind,
      'num_devices': mesh.size, 'batch_size': config.batch_size,
      'eval_batch_size': config.eval_batch_size, 'half_precision': config.half_precision,
      'relu': cpu_tuning.relu_form(config.model.relu), 'pipeline': trainer.pipeline,
      'steps_per_dispatch': trainer.steps.steps_per_dispatch,
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
  }
  results |= step_timings(config, trainer)
  results['train_images_per_sec'] = loop_images_per_sec(config, trainer)
  num_pipeline_images = ((config.benchmark.warmup_steps + config.benchmark.pipeline_batches)
                         * config.batch_size)
  results['input_pipeline_images_per_sec'] = jax.process_count() * input_pipeline_images_per_sec(
      config, images[:num_pipeline_images], labels[:num_pipeline_images])
  for name in ('train_step', 'train'):
    results[f'{name}_tflops'] = (results[f'{name}_images_per_sec'] * results['flops_per_image']
                                 / 1e12)
  results['load_avg_1min'] = os.getloadavg()[0]
  if workdir and jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'benchmark.json'), 'w') as f:
      json.dump(results, f, indent=2)
  return results


def table(results: dict) -> str:
  """The results as a small markdown table under a line saying what ran where."""
  ratio = results['input_pipeline_images_per_sec'] / results['train_step_images_per_sec']
  rows = [
      ('train step compile', f'{results["train_step_compile_s"]:.1f} s'),
      ('train step alone, images/s', f'{results["train_step_images_per_sec"]:.1f} '
                                     f'({results["train_step_tflops"]:.3g} TFLOP/s)'),
      ('training end to end, images/s', f'{results["train_images_per_sec"]:.1f} '
                                        f'({results["train_tflops"]:.3g} TFLOP/s)'),
      ('eval images/s', f'{results["eval_images_per_sec"]:.1f}'),
      ('host input pipeline images/s', f'{results["input_pipeline_images_per_sec"]:.0f} '
                                       f'({ratio:.0f}x the train step)'),
      ('GFLOP per trained image', f'{results["flops_per_image"] / 1e9:.3g}'),
  ]
  precision = 'bf16' if results['half_precision'] else 'fp32'
  header = (f'{results["num_devices"]} {results["backend"]} device(s) '
            f'({results["device_kind"]}), batch {results["batch_size"]} '
            f'(eval {results["eval_batch_size"]}), {precision}, relu={results["relu"]}, '
            f'{results["pipeline"]} pipeline, {results["steps_per_dispatch"]} steps per '
            f'dispatch, XLA_FLAGS={results["xla_flags"] or "(none)"}, '
            f'load {results["load_avg_1min"]:.1f}')
  return '\n'.join([header, '', '| measure | value |', '|---|---|']
                   + [f'| {name} | {value} |' for name, value in rows])
