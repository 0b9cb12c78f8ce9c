"""What a user reads on the console the first time a machine runs launch.py: no third-party log
line (matplotlib builds its font cache then), the first-steps line, and the epoch lines of a run
of a fraction of an epoch."""

import os
import re
import subprocess
import sys

import pytest

from conftest import FAST_COMPILE, ROOT, TINY_FLAGS


@pytest.mark.slow
def test_a_first_run_of_a_fifth_of_an_epoch_prints_only_our_lines(tmp_path, real_subset):
  caches = {'MPLCONFIGDIR': tmp_path / 'matplotlib', 'XDG_CACHE_HOME': tmp_path / 'cache'}
  for folder in caches.values():
    folder.mkdir()
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=FAST_COMPILE,
             **{name: str(folder) for name, folder in caches.items()})
  result = subprocess.run(
      [sys.executable, 'launch.py', *TINY_FLAGS, f'--config.data.dir={real_subset}',
       '--config.num_epochs=0.2', '--config.batch_size=24', '--config.eval_batch_size=128',
       '--config.log_every_steps=8',  # 43 steps of the 215 in an epoch of 5,169 images.
       f'--workdir={tmp_path / "run"}'], cwd=ROOT, env=env, capture_output=True, text=True,
      timeout=600)
  assert result.returncode == 0, result.stderr
  assert list(caches['MPLCONFIGDIR'].iterdir()), 'matplotlib built no font cache: not a first run'
  output = result.stdout + result.stderr
  assert 'fontManager' not in output
  assert not re.search(r'^I\d{4} ', output, re.M), output  # No INFO line in absl's format.
  assert re.search(r'^Start-up took \d+\.\d s, from launch to the end of the first '
                   r'(step|\d+ steps) \(imports, data loading, compilation\)\.$', output, re.M)
  epoch_lines = [line for line in result.stdout.splitlines() if line.startswith('epoch ')]
  assert len(epoch_lines) == 1 and epoch_lines[0].startswith('epoch 1/0.2  train_loss ')
