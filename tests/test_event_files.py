"""The run's event files, written without TensorFlow, read as TensorBoard reads them; and read back
here as TensorBoard does, also from files that clu's (TensorFlow's) writer left."""

import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest
from clu import metric_writers
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from resnet_jax import event_files
from tests.helpers import ROOT


def test_tensorboard_reads_the_scalars_and_hyperparameters(tmp_path):
  writer = event_files.Writer(str(tmp_path / 'run'))
  writer.write_hparams({'batch_size': 8, 'model': {'channels': (4, 8), 'pool': None},
                        'half_precision': False})
  writer.write_scalars(1, {'train_loss': jnp.float32(2.5), 'train_accuracy': np.float64(0.25)})
  writer.write_scalars(2, {'train_loss': 2.0})
  writer.close()
  (path,) = (tmp_path / 'run').glob(event_files.PATTERN)
  events = event_accumulator.EventAccumulator(
      str(path), size_guidance={event_accumulator.TENSORS: 0}).Reload()
  assert {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in
                events.Tensors(tag)] for tag in ('train_loss', 'train_accuracy')} == {
                    'train_loss': [(1, 2.5), (2, 2.0)], 'train_accuracy': [(1, 0.25)]}
  (content,) = events.PluginTagToContent('hparams').values()
  hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
  assert {k: v.WhichOneof('kind') and getattr(v, v.WhichOneof('kind'))
          for k, v in hparams.items()} == {
              'batch_size': 8.0, 'model.channels': '(4, 8)', 'model.pool': 'None',
              'half_precision': False}
  assert event_files.read_scalars(str(tmp_path / 'run')) == {
      'train_loss': {1: 2.5, 2: 2.0}, 'train_accuracy': {1: 0.25}}


def test_written_events_reach_the_file_without_a_flush(tmp_path):
  """As a crash would leave them: the writer is neither flushed nor closed."""
  writer = event_files.Writer(str(tmp_path))
  writer.write_scalars(1, {'train_loss': 2.5})
  deadline = time.monotonic() + 30
  while event_files.read_scalars(str(tmp_path)) != {'train_loss': {1: 2.5}}:
    assert time.monotonic() < deadline, 'the event never reached the file'
    time.sleep(0.01)
  writer.close()


def test_a_disabled_writer_writes_nothing(tmp_path):
  writer = event_files.Writer(str(tmp_path / 'run'), enabled=False)
  writer.write_hparams({'batch_size': 8})
  writer.write_scalars(1, {'train_loss': 1.0})
  writer.close()
  assert not (tmp_path / 'run').exists()


def test_a_failed_write_is_raised_at_flush(tmp_path):
  writer = event_files.Writer(str(tmp_path))
  writer.write_scalars(1, {'train_loss': 'not a number'})
  with pytest.raises(ValueError):
    writer.flush()


def test_later_sessions_win_and_clus_files_read_alike(tmp_path):
  """A resumed run's new file overrides the steps it redoes, whichever writer wrote each."""
  first = metric_writers.create_default_writer(str(tmp_path), asynchronous=False)
  for step in (1, 2, 3):
    first.write_scalars(step, {'train_loss': float(step)})
  first.close()
  second = event_files.Writer(str(tmp_path))
  for step in (3, 4):
    second.write_scalars(step, {'train_loss': 10.0 + step})
  second.close()
  assert event_files.read_scalars(str(tmp_path)) == {'train_loss': {1: 1, 2: 2, 3: 13, 4: 14}}


def test_writing_and_reading_import_no_tensorflow(tmp_path):
  """In a fresh process: the training loop's writer and the plots' reader."""
  code = ('import sys\nfrom resnet_jax import event_files\n'
          f'w = event_files.Writer({str(tmp_path)!r})\nw.write_scalars(1, {{"x": 1.0}})\n'
          f'w.close()\nassert event_files.read_scalars({str(tmp_path)!r}) == {{"x": {{1: 1.0}}}}\n'
          'assert "tensorflow" not in sys.modules, "imported TensorFlow"\n')
  proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        timeout=120, cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-2000:]
