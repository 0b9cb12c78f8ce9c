"""XLA's convolutions of a design, timed one by one: forward, input gradient, weight gradient.

  python benchmarks/conv_timings.py --config configs/resnet24.py

Sums each FxF convolution's three times over the design (1x1 shortcuts and the stem left out)
at the config's batch size: a floor under the train step's time that no change outside the
convolutions can go below. Like launch.py, it sets the XLA:CPU flags on a CPU-only machine.
"""

import collections
import os
import pathlib
import statistics
import sys
import time

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py).')
flags.DEFINE_integer('repeats', 5, 'Timed runs of each operation; the median is used.')


def median_ms(fn, *args) -> float:
  import jax  # pylint: disable=import-outside-toplevel
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return 1000 * statistics.median(times)


def main(argv):
  del argv
  from resnet_jax import cpu_tuning  # pylint: disable=import-outside-toplevel
  cpu_tuning.use_fast_cpu_flags()  # Before JAX starts its backends.
  import jax  # pylint: disable=import-outside-toplevel
  from resnet_jax import cifar10, models  # pylint: disable=import-outside-toplevel

  model = FLAGS.config.model
  kernels = models.per_layer(model.conv_kernel, len(model.blocks))
  # (input size, in channels, out channels, kernel, stride): how many of each the design has.
  convs, size, width = collections.Counter(), cifar10.IMAGE_SHAPE[0], model.channels[0]
  for i, (blocks, channels) in enumerate(zip(model.blocks, model.channels)):
    stride = 2 if i else 1  # The first block of every later layer halves the map.
    convs[(size, width, channels, kernels[i], stride)] += 1
    size //= stride
    convs[(size, channels, channels, kernels[i], 1)] += 2 * blocks - 1
    width = channels
  print(f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")}, batch {FLAGS.config.batch_size}\n')
  print('| input | channels | kernel | stride | count | forward ms | input grad ms | '
        'weight grad ms |\n|---|---|---|---|---|---|---|---|')
  total = 0.0
  for seed, ((size, cin, cout, kernel, stride), count) in enumerate(convs.items()):
    x_key, w_key = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(x_key, (FLAGS.config.batch_size, size, size, cin))
    w = jax.random.normal(w_key, (kernel, kernel, cin, cout))

    def conv(x, w, stride=stride):
      return jax.lax.conv_general_dilated(x, w, (stride, stride), 'SAME',
                                          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    g = conv(x, w)
    times = [median_ms(jax.jit(conv), x, w),
             median_ms(jax.jit(lambda x, w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)), x, w, g),
             median_ms(jax.jit(lambda x, w, g: jax.vjp(lambda w: conv(x, w), w)[1](g)), x, w, g)]
    total += count * sum(times)
    print(f'| {size}x{size} | {cin}->{cout} | {kernel}x{kernel} | {stride} | {count} | '
          + ' | '.join(f'{t:.1f}' for t in times) + ' |')
  print(f'\nThese convolutions of one train step: {total / 1000:.2f} s, so at most '
        f'{FLAGS.config.batch_size / total * 1000:.1f} images/s.')


if __name__ == '__main__':
  app.run(main)
