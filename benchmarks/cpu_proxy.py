"""CPU proxy: do recipes differ in accuracy on a small design? Mean ± sd over seeds.

Trains each config spec on the real CIFAR-10 subset (../shared/data/cifar10_real: 5,169 train,
1,017 test images) with a small design and a fixed number of epochs, for each seed, through
`train.train_and_evaluate`, and prints the test accuracy as a table (and JSON with --json).
It tells whether a technique helps before a GPU confirms it at full size; it is not a test and
it times nothing that matters (wall times are a 2-core CPU's, compilation included).

  python benchmarks/cpu_proxy.py --epochs=8 --seeds=0,1,2 \
      --spec=default=configs/default.py --spec=fast=configs/fast.py --json=runs/proxy.json

A spec is NAME=CONFIG_FILE[:PRESET] followed by optional space-separated FIELD=VALUE overrides,
e.g. --spec='fast_no_lookahead=configs/fast.py optimizer.lookahead_sync_period=0'. Every run
also gets --design and the CPU settings below. Runs live in --workdir/NAME/seedS: the same
command again reuses finished runs and resumes interrupted ones (wall times add up).
"""

import argparse
import ast
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_jax import cpu_tuning  # pylint: disable=g-import-not-at-top

cpu_tuning.use_fast_cpu_flags()  # Before JAX starts, as launch.py.

from absl import logging  # pylint: disable=g-import-not-at-top

from resnet_jax import caches, console, train  # pylint: disable=g-import-not-at-top


def parse_value(text: str):
  """A Python literal (1, 0.5, True, 1,1,1 -> a tuple), else the text itself."""
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def overrides(tokens) -> dict:
  pairs = [token.split('=', 1) for token in tokens]
  if any(len(pair) != 2 for pair in pairs):
    raise SystemExit(f'error: expected FIELD=VALUE overrides, got {" ".join(tokens)!r}')
  return {field: parse_value(value) for field, value in pairs}


def load_config(spec: str):
  """(name, config) for NAME=CONFIG_FILE[:PRESET] [FIELD=VALUE ...]."""
  head, *tokens = spec.split()
  name, _, path = head.partition('=')
  path, _, preset = path.partition(':')
  if not name or not path:
    raise SystemExit(f'error: --spec={spec!r}: expected NAME=CONFIG_FILE[:PRESET] [FIELD=VALUE]')
  module_spec = importlib.util.spec_from_file_location(f'proxy_{name}', ROOT / path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  config = module.get_config(preset) if preset else module.get_config()
  config.update_from_flattened_dict(overrides(tokens))
  return name, config


def spent(workdir: str, start: float) -> float:
  """Seconds this run has taken over every invocation (a reused or resumed run adds up)."""
  path = os.path.join(workdir, 'proxy_seconds')
  total = time.time() - start
  if os.path.exists(path):
    with open(path) as f:
      total += float(f.read())
  with open(path, 'w') as f:
    f.write(str(total))
  return total


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--spec', action='append', required=True, help='NAME=CONFIG[:PRESET] ...')
  parser.add_argument('--epochs', type=int, default=8)
  parser.add_argument('--seeds', default='0,1,2')
  parser.add_argument('--design', default='model.blocks=1,1,1 model.channels=16,32,64',
                      help='FIELD=VALUE overrides given to every spec')
  parser.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data' / 'cifar10_real'))
  parser.add_argument('--workdir', default='runs/cpu_proxy')
  parser.add_argument('--json', default='', help='Also write the results here.')
  args = parser.parse_args()
  caches.use_compilation_cache()
  logging.set_verbosity(logging.WARNING)
  seeds = [int(s) for s in args.seeds.split(',')]
  common = overrides(args.design.split()) | {
      'data.dir': args.data, 'num_epochs': args.epochs, 'half_precision': False,
      'eval_every_epochs': args.epochs, 'checkpoint_every_epochs': args.epochs,
      'log_every_steps': 10_000}
  results = []
  for spec in args.spec:
    name, config = load_config(spec)
    config.update_from_flattened_dict(common)
    runs = []
    for seed in seeds:
      config.seed = seed
      workdir = os.path.join(args.workdir, name, f'seed{seed}')
      start = time.time()
      train.train_and_evaluate(config, workdir, progress=console.TrainingConsole())
      with open(os.path.join(workdir, 'report.json')) as f:
        accuracy = json.load(f)['accuracy']
      runs.append({'seed': seed, 'accuracy': accuracy, 'wall_s': spent(workdir, start)})
      print(f'{name} seed {seed}: {accuracy:.4f} ({runs[-1]["wall_s"]:.0f} s)', flush=True)
    accuracies = [r['accuracy'] for r in runs]
    results.append({'spec': spec, 'name': name, 'epochs': args.epochs,
                    'batch_size': config.batch_size, 'runs': runs,
                    'mean': statistics.mean(accuracies),
                    'sd': statistics.stdev(accuracies) if len(runs) > 1 else 0.0})
  print(table(results, args))
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
      json.dump({'command': ' '.join(sys.argv), 'design': args.design, 'data': args.data,
                 'results': results}, f, indent=2)


def table(results, args) -> str:
  lines = [f'{args.epochs} epochs, {args.design}, data {args.data}, seeds {args.seeds}',
           '| spec | batch | test accuracy (mean ± sd) | per seed | wall per run |',
           '|---|---:|---:|---|---:|']
  for r in results:
    per_seed = ', '.join(f'{run["accuracy"]:.2%}' for run in r['runs'])
    wall = statistics.mean(run['wall_s'] for run in r['runs'])
    lines.append(f'| {r["name"]} | {r["batch_size"]} | {r["mean"]:.2%} ± {r["sd"]:.2%} | '
                 f'{per_seed} | {wall:.0f} s |')
  return '\n'.join(lines)


if __name__ == '__main__':
  main()
