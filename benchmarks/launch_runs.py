"""Runs configs as a user does, `python launch.py` from launch to report, and tabulates the test
accuracy (mean ± sd over seeds), the wall time and the start-up of each.

Wall time is from launching the process to its exit, after the reports and curves are written;
start-up is from the launch to the end of the first chunk of steps (imports, data, compiling),
as the run itself measures it (its `startup_seconds` scalar). The first run finds an empty cache
(a fresh XDG_CACHE_HOME under --workdir), so its start-up is a first run's; later runs reuse its
compilations and decoded images, as a user's repeat runs do. Each run starts from an empty
workdir. The measurement behind configs/fast.py; on a GPU, with the JPEG copy, its design
against ResNet-24's and its epochs against fewer:

  python benchmarks/launch_runs.py --seeds=0,1,2 --data=/root/data/cifar10_jpeg \
      --spec=fast=configs/fast.py '--spec=fast_r24=configs/fast.py model.blocks=3,5,3' \
      '--spec=fast_e12=configs/fast.py num_epochs=12' --json=runs/launch_runs.json

A spec is NAME=CONFIG_FILE[:PRESET] followed by optional space-separated FIELD=VALUE overrides,
passed to launch.py as --config.FIELD=VALUE.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_jax import event_files  # pylint: disable=g-import-not-at-top


def parse_spec(spec: str) -> tuple[str, list[str]]:
  """(name, launch.py arguments) for NAME=CONFIG_FILE[:PRESET] [FIELD=VALUE ...]."""
  head, *tokens = spec.split()
  name, _, config = head.partition('=')
  if not name or not config or any('=' not in token for token in tokens):
    raise SystemExit(f'error: --spec={spec!r}: expected NAME=CONFIG_FILE[:PRESET] [FIELD=VALUE]')
  return name, ['--config', config] + [f'--config.{token}' for token in tokens]


def launch(args: list[str], workdir: str, cache: str, timeout: float) -> dict:
  """One run of launch.py in a fresh `workdir`: its wall time, start-up and test accuracy."""
  shutil.rmtree(workdir, ignore_errors=True)
  os.makedirs(workdir)
  env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONUNBUFFERED='1')
  env.pop('JAX_COMPILATION_CACHE_DIR', None)  # The cache under XDG_CACHE_HOME is the one timed.
  with open(os.path.join(workdir, 'console.txt'), 'w') as log:
    start = time.time()
    process = subprocess.run([sys.executable, str(ROOT / 'launch.py'), *args, '--workdir',
                              workdir], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                             timeout=timeout, check=False)
    wall = time.time() - start
  if process.returncode:
    raise SystemExit(f'error: launch.py {" ".join(args)} exited with {process.returncode}; '
                     f'see {workdir}/console.txt')
  with open(os.path.join(workdir, 'report.json')) as f:
    accuracy = json.load(f)['accuracy']
  startup, = event_files.read_scalars(workdir)['startup_seconds'].values()
  return {'accuracy': accuracy, 'wall_s': wall, 'startup_s': startup}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--spec', action='append', required=True, help='NAME=CONFIG[:PRESET] ...')
  parser.add_argument('--seeds', default='0,1,2')
  parser.add_argument('--data', default='', help="config.data.dir (default: the config's)")
  parser.add_argument('--workdir', default='runs/launch_runs')
  parser.add_argument('--timeout', type=float, default=900, help='Seconds one run may take.')
  parser.add_argument('--json', default='', help='Also write the results here.')
  args = parser.parse_args()
  specs = [parse_spec(spec) for spec in args.spec]
  seeds = [int(s) for s in args.seeds.split(',')]
  cache = os.path.abspath(os.path.join(args.workdir, 'cache'))
  shutil.rmtree(cache, ignore_errors=True)
  results = []
  for spec, (name, launch_args) in zip(args.spec, specs):
    runs = []
    for seed in seeds:
      data = [f'--config.data.dir={args.data}'] if args.data else []
      run = launch(launch_args + [f'--config.seed={seed}'] + data,
                   os.path.abspath(os.path.join(args.workdir, name, f'seed{seed}')), cache,
                   args.timeout)
      runs.append({'seed': seed} | run)
      print(f'{name} seed {seed}: {run["accuracy"]:.2%} in {run["wall_s"]:.1f} s '
            f'(start-up {run["startup_s"]:.1f} s)', flush=True)
    results.append(summarize(spec, name, runs))
  print(table(results, args))
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
      json.dump({'command': ' '.join(sys.argv), 'data': args.data or "the config's",
                 'results': results}, f, indent=2)


def summarize(spec: str, name: str, runs: list[dict]) -> dict:
  """A spec's runs with the mean and sample standard deviation of their test accuracies."""
  accuracies = [r['accuracy'] for r in runs]
  return {'spec': spec, 'name': name, 'runs': runs, 'mean': statistics.mean(accuracies),
          'sd': statistics.stdev(accuracies) if len(runs) > 1 else 0.0}


def table(results, args) -> str:
  """The runs in the order made: the very first start-up is a first run's, the rest repeats'."""
  lines = [f'data {args.data or "of the config"}, seeds {args.seeds}, launch to report',
           '| spec | test accuracy (mean ± sd) | per seed | wall per run | start-up per run |',
           '|---|---:|---|---|---|']
  for r in results:
    per_seed = ', '.join(f'{run["accuracy"]:.2%}' for run in r['runs'])
    walls = ', '.join(f'{run["wall_s"]:.1f} s' for run in r['runs'])
    startups = ', '.join(f'{run["startup_s"]:.1f} s' for run in r['runs'])
    lines.append(f'| {r["name"]} | {r["mean"]:.2%} ± {r["sd"]:.2%} | {per_seed} | {walls} | '
                 f'{startups} |')
  return '\n'.join(lines)


if __name__ == '__main__':
  main()
