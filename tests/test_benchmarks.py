"""The benchmark scripts run end to end, and a benchmark measure in this process (they
measure; nothing here is timed)."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import launch_runs
from resnet_jax import benchmark, device_data
from tests.helpers import ROOT, tiny_config, write_cifar_python


@pytest.mark.slow
def test_launch_runs_tabulates_accuracy_wall_time_and_startup_of_a_fresh_run(tmp_path):
  data = write_cifar_python(tmp_path / 'cifar-10-batches-py', num_train=64, num_test=16)
  workdir, results = tmp_path / 'runs', tmp_path / 'results.json'
  (workdir / 'tiny' / 'seed1').mkdir(parents=True)
  (workdir / 'tiny' / 'seed1' / 'stale.txt').write_text('from an earlier run')
  command = [sys.executable, 'benchmarks/launch_runs.py', '--seeds=1', f'--data={data}',
             '--spec=tiny=configs/tiny.py num_epochs=1 batch_size=16', f'--workdir={workdir}',
             f'--json={results}']
  proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
  assert '| tiny |' in proc.stdout
  (result,) = json.loads(results.read_text())['results']
  (run,) = result['runs']
  assert run['seed'] == 1 and 0 <= run['accuracy'] <= 1 and 0 < run['startup_s'] < run['wall_s']
  assert (result['mean'], result['sd']) == (run['accuracy'], 0.0)
  config = json.loads((workdir / 'tiny' / 'seed1' / 'config.json').read_text())
  assert config['seed'] == 1 and config['num_epochs'] == 1 and config['batch_size'] == 16
  assert not (workdir / 'tiny' / 'seed1' / 'stale.txt').exists()  # Every run is a fresh one.
  assert os.listdir(workdir / 'cache' / 'resnet_jax' / 'jax')  # The runs' own cache.


def test_launch_runs_summarizes_seeds_by_mean_and_sample_sd():
  runs = [{'seed': seed, 'accuracy': accuracy, 'wall_s': 10.0 + seed, 'startup_s': 5.0}
          for seed, accuracy in ((0, 0.90), (1, 0.92), (2, 0.94))]
  result = launch_runs.summarize('fast=configs/fast.py', 'fast', runs)
  assert result['mean'] == pytest.approx(0.92) and result['sd'] == pytest.approx(0.02)
  text = launch_runs.table([result], argparse.Namespace(data='/data', seeds='0,1,2'))
  assert text.splitlines()[-1] == ('| fast | 92.00% ± 2.00% | 90.00%, 92.00%, 94.00% | '
                                   '10.0 s, 11.0 s, 12.0 s | 5.0 s, 5.0 s, 5.0 s |')


@pytest.mark.slow
def test_launch_runs_refuses_a_malformed_spec():
  proc = subprocess.run([sys.executable, 'benchmarks/launch_runs.py', '--spec=configs/tiny.py'],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert proc.returncode != 0 and "--spec='configs/tiny.py'" in proc.stderr


def test_input_pipeline_rate_of_synthetic_images():
  """The benchmark's host pipeline measure, in this process (the whole benchmark is launched in
  test_launch.py)."""
  config = tiny_config(**{'benchmark.warmup_steps': 1, 'benchmark.pipeline_batches': 2})
  images, labels = device_data.synthetic(3 * config.batch_size, config.seed)
  assert images.dtype == np.uint8 and images.shape == (24, 32, 32, 3)
  assert benchmark.input_pipeline_images_per_sec(config, images, labels) > 0
