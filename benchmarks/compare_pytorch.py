"""JAX against PyTorch on this CPU: one train step of each in turn, so all see the same load.

  python3 -m venv /tmp/venv-torch
  /tmp/venv-torch/bin/pip install torch numpy --index-url https://download.pytorch.org/whl/cpu
  python benchmarks/compare_pytorch.py --torch_python=/tmp/venv-torch/bin/python

Each variant runs in its own process (XLA reads its flags when it starts) and, round after
round, each takes one train step. The table gives every variant's median images/s and the
median over rounds of its speed relative to the first variant in the same round, which cancels
drifts of a shared machine's load. Rounds of alternating steps, not one timed test, are what
the performance table of docs/performance.md comes from.
"""

import os
import pathlib
import statistics
import subprocess
import sys

from absl import app, flags
from ml_collections import config_flags

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from resnet_jax import cpu_tuning  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', str(ROOT / 'configs' / 'resnet24.py'),
                                'The design to compare (resnet_jax config file).')
flags.DEFINE_string('torch_python', None, 'Python of an environment with PyTorch installed.')
flags.DEFINE_integer('rounds', 7, 'Rounds of one step per variant.')
flags.DEFINE_list('variants', ['torch_eager', 'torch_compile', 'jax_default_xla', 'jax_plain',
                               'jax_auto'], 'Which variants, first = the reference.')

CPU_FLAGS = cpu_tuning.fast_cpu_flags()
# name: (description, resnet_jax config overrides or None for PyTorch, extra args, XLA_FLAGS).
VARIANTS = {
    'torch_eager': ('PyTorch eager', None, [], None),
    'torch_compile': ('PyTorch torch.compile, channels_last', None,
                      ['--compile', '--channels_last'], None),
    'jax_default_xla': ('JAX, plain Flax (relu=max), XLA default flags',
                        ['--config.model.relu=max'], [], ''),
    'jax_plain': ('JAX, plain Flax (relu=max), launcher XLA flags',
                  ['--config.model.relu=max'], [], CPU_FLAGS),
    'jax_auto': ('JAX, resnet_jax defaults (relu=select), launcher XLA flags', [], [], CPU_FLAGS),
    'jax_bf16': ('JAX, resnet_jax defaults, half_precision', ['--config.half_precision=True'],
                 [], CPU_FLAGS),
}


def start(name, config, config_file, config_overrides):
  description, overrides, extra, flags_value = VARIANTS[name]
  env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL='2')
  if overrides is None:
    model = config.model
    command = [FLAGS.torch_python, str(ROOT / 'benchmarks' / 'pytorch_resnet.py'),
               f'--blocks={",".join(map(str, model.blocks))}',
               f'--channels={",".join(map(str, model.channels))}',
               f'--conv_kernel={model.conv_kernel}', f'--skip_kernel={model.skip_kernel}',
               f'--batch_size={config.batch_size}',
               f'--warmup_steps={config.benchmark.warmup_steps}', *extra]
  else:
    command = [sys.executable, str(ROOT / 'benchmarks' / 'jax_resnet.py'),
               f'--config={config_file}', *config_overrides, *overrides]
    env['XLA_FLAGS'] = flags_value
  process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                             text=True, cwd=ROOT)
  if process.stdout.readline().strip() != 'ready':
    raise RuntimeError(f'{description} did not start: {" ".join(command)}')
  return process


def step_seconds(process) -> float:
  process.stdin.write('step\n')
  process.stdin.flush()
  return float(process.stdout.readline())


def main(argv):
  del argv
  config = FLAGS.config
  config_file = flags.FLAGS['config'].config_filename
  config_overrides = [arg for arg in sys.argv[1:] if arg.startswith('--config.')]
  if any(VARIANTS[name][1] is None for name in FLAGS.variants) and not FLAGS.torch_python:
    raise app.UsageError('--torch_python is required for the PyTorch variants')
  if config.model.pool or not all(isinstance(k, int) for k in (config.model.conv_kernel,
                                                               config.model.skip_kernel)):
    raise app.UsageError('the PyTorch mirror supports global pooling and one kernel size only')
  load_before = os.getloadavg()
  processes = {name: start(name, config, config_file, config_overrides)
               for name in FLAGS.variants}
  seconds = {name: [] for name in FLAGS.variants}
  for _ in range(FLAGS.rounds):
    for name, process in processes.items():
      seconds[name].append(step_seconds(process))
  for process in processes.values():
    process.stdin.close()
    process.wait()
  reference = seconds[FLAGS.variants[0]]
  print(f'{FLAGS.rounds} rounds, batch {config.batch_size}, load average before '
        f'{load_before[0]:.1f} and after {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n')
  print(f'| implementation | images/s | vs {VARIANTS[FLAGS.variants[0]][0]} |\n|---|---|---|')
  for name in FLAGS.variants:
    speedup = statistics.median(r / s for r, s in zip(reference, seconds[name]))
    print(f'| {VARIANTS[name][0]} | {config.batch_size / statistics.median(seconds[name]):.1f} '
          f'| {speedup:.2f} |')


if __name__ == '__main__':
  app.run(main)
