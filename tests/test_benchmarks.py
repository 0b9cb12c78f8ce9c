"""The benchmark scripts run end to end, and a benchmark measure in this process (they
measure; nothing here is timed)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from resnet_jax import benchmark, device_data
from tests.conftest import FAST_COMPILE, ROOT, tiny_config, write_cifar_python


@pytest.mark.slow
def test_launch_runs_tabulates_accuracy_wall_time_and_startup_of_fresh_runs(tmp_path):
  data = write_cifar_python(tmp_path / 'cifar-10-batches-py', num_train=64, num_test=16)
  workdir, results = tmp_path / 'runs', tmp_path / 'results.json'
  (workdir / 'tiny' / 'seed1').mkdir(parents=True)
  (workdir / 'tiny' / 'seed1' / 'stale.txt').write_text('from an earlier run')
  command = [sys.executable, 'benchmarks/launch_runs.py', '--seeds=0,1', f'--data={data}',
             '--spec=tiny=configs/tiny.py num_epochs=1 batch_size=16', f'--workdir={workdir}',
             f'--json={results}']
  proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, XLA_FLAGS=FAST_COMPILE))
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
  assert '| tiny |' in proc.stdout
  (result,) = json.loads(results.read_text())['results']
  assert [run['seed'] for run in result['runs']] == [0, 1]
  for run in result['runs']:
    assert 0 <= run['accuracy'] <= 1 and 0 < run['startup_s'] < run['wall_s']
  assert not (workdir / 'tiny' / 'seed1' / 'stale.txt').exists()  # Every run is a fresh one.
  assert os.listdir(workdir / 'cache' / 'resnet_jax' / 'jax')  # The runs' own cache.


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
