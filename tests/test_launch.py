"""The command line: summaries, overrides, and one-line refusals of a user's mistakes."""

import os
import subprocess
import sys

import pytest
from clu import metric_writers

from tests.conftest import ROOT


def launch(*args, cwd=ROOT):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, str(ROOT / 'launch.py'), *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


def test_summary_counts_parameters_after_overrides():
  proc = launch('--config', 'configs/resnet24.py', '--mode=summary',
                '--config.model.blocks=2,2,2,2', '--config.model.channels=32,64,128,256')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'Trainable parameters: 2,797,610' in proc.stdout
  assert 'layer4_block2' in proc.stdout


@pytest.mark.parametrize('args,expected', [
    (['--config.model.blocks=2,2,2,2', '--config.model.channels=64,128,256,512'],
     ['11,173,962', '5,000,000']),
    (['--config.model.channls=64,128,256'], ['channls', 'channels']),
    (['--config.model.channels=64,128'], ['config.model.channels=(64, 128)', 'one per residual']),
    (['--config.batch_size=big'], ['batch_size', 'big']),
    (['--config.data.dir=/no/such/folder'], ['/no/such/folder', 'is not a folder']),
    (['--mode=eval'], ['no checkpoint in']),
    (['--mode=plot'], ['no training metrics']),
])
def test_mistakes_are_one_line_errors(tmp_path, args, expected):
  workdir = tmp_path / 'run'
  proc = launch('--config', 'configs/resnet24.py', f'--workdir={workdir}', *args)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert 'Traceback' not in proc.stderr
  error_lines = [line for line in proc.stderr.splitlines() if line.startswith('error: ')]
  assert len(error_lines) == 1, proc.stderr[-2000:]
  for fragment in expected:
    assert fragment in error_lines[0]


def test_presets_and_plot_mode(tmp_path):
  proc = launch('--config', 'configs/resnet24.py:mixpu', '--mode=summary')
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr
  assert 'unknown variant; expected one of mixup' in proc.stderr
  writer = metric_writers.create_default_writer(str(tmp_path), asynchronous=False)
  writer.write_scalars(1, {'train_loss': 2.0, 'train_learning_rate': 0.1})
  writer.close()
  proc = launch('--workdir', str(tmp_path), '--mode=plot')  # Needs no --config.
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert sorted(os.listdir(tmp_path))[:2] == ['curves_learning_rate.png', 'curves_loss.png']
