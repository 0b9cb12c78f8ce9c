"""The console: set-up line, progress bar, epoch lines, closing block, logging, and that a
training run prints nothing but tells them; the workdir's config.json round trip."""

import io
import json
import logging as py_logging

import pytest
from absl import logging

from resnet_jax import console, defaults, run_config
from tests.helpers import tiny_config, train_on_mock_data


class Clock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def progress(tty, **kwargs):
  clock, stream = Clock(), io.StringIO()
  bar = console.Progress(num_steps=40, steps_per_epoch=10, batch_size=8, stream=stream, tty=tty,
                         clock=clock, **kwargs)
  return bar, clock, stream


def test_metrics_have_four_significant_digits():
  assert console.format_metrics({'train_loss': 2.302585093, 'test_accuracy': 0.912345678,
                                 'lr': 1e-5, 'epoch': 3}) == (
      'train_loss 2.303  test_accuracy 0.9123  lr 1e-05  epoch 3')
  assert [console.duration(s) for s in (4.4, 725, 10_920)] == ['4s', '12m05s', '3h02m']


def test_setup_line_states_devices_design_parameters_data_and_steps():
  config = defaults.get_config()
  line = console.setup_line(num_devices=8, platform='gpu', model_config=config.model,
                            num_params=4_918_602, data='tfds cifar10', pipeline='device',
                            num_train=50_000,
                            num_steps=78_000, steps_per_epoch=390, batch_size=128,
                            first_step=390)
  assert '\n' not in line
  for fact in ('8 gpu devices', 'B=3,5,3 C=64,128,256 F=3 K=1 P=global', '4,918,602 parameters',
               'tfds cifar10, 50,000 train images, device pipeline', 'steps 391-78,000',
               '200 epochs of 390',
               'batch 128'):
    assert fact in line


def test_terminal_bar_is_redrawn_in_place_with_images_per_sec_and_eta():
  bar, clock, stream = progress(tty=True)
  bar.update(1)  # After the first step (its compilation does not count).
  clock.now = 1.0
  bar.update(5)  # A chunk of 4 steps of 8 images in 1 s.
  assert stream.getvalue().count('\r\x1b[K') == 2 and '\n' not in stream.getvalue()
  last = stream.getvalue().split('\r\x1b[K')[-1]
  assert last.startswith('epoch 1/4 [############------------]  50% 5/10')
  assert '32 img/s' in last and 'ETA 9s' in last  # 35 steps left at 4 steps/s.
  clock.now = 1.1
  bar.update(6)  # Within redraw_secs: not drawn.
  assert stream.getvalue().count('\r') == 2
  clock.now = 2.0
  bar.update(10)
  bar.end_epoch({'train_loss': 1.23456, 'test_accuracy': 0.5})
  lines = stream.getvalue().split('\n')
  assert '[########################] 100% 10/10' in lines[0]
  assert lines[0].endswith('epoch 1/4  train_loss 1.235  test_accuracy 0.5  36 img/s  ETA 7s')
  assert lines[1] == ''  # The epoch line ends the bar's line.


def test_without_a_terminal_there_are_no_carriage_returns_and_few_lines():
  bar, clock, stream = progress(tty=False, line_secs=60)
  for step in range(1, 21):  # 2 epochs, 1 s per step.
    clock.now = float(step)
    bar.update(step)
    if step % 10 == 0:
      bar.end_epoch({'test_accuracy': 0.25})
  output = stream.getvalue()
  assert '\r' not in output and '\x1b' not in output
  assert output.splitlines() == ['epoch 1/4  test_accuracy 0.25  8 img/s  ETA 30s',
                                 'epoch 2/4  test_accuracy 0.25  8 img/s  ETA 20s']
  clock.now = 100.0
  bar.update(21)  # A minute after the last line: one plain bar line.
  assert output + 'epoch 3/4 [##----------------------]  10% 1/10  0.1 img/s  ETA 1m34s\n' == (
      stream.getvalue())


def test_training_console_prints_setup_epochs_and_closing_block(tmp_path):
  stream = io.StringIO()
  shown = console.TrainingConsole(stream)
  for run in range(2):  # One console, run after run (a search's trials).
    shown.start(num_devices=1, platform='cpu', model_config=defaults.get_config().model,
                num_params=1234, data='mock', pipeline='device', num_train=32, num_steps=8,
                steps_per_epoch=4, batch_size=8, first_step=0)
    for step in range(1, 9):
      shown.update(step)
      if step % 4 == 0:
        shown.end_epoch({'val_accuracy': 0.5})
  shown.end({'test': {'accuracy': 0.5, 'loss': 1.0}}, workdir=str(tmp_path),
            checkpoints=str(tmp_path / 'checkpoints'), wall_secs=3, startup_secs=1, tta_views=1)
  lines = stream.getvalue().splitlines()  # Not a terminal: no bar within a minute.
  assert [line.split(' | ')[0] for line in lines[:1]] == ['1 cpu device']
  assert [line.split('  ')[0] for line in lines[1:3]] == ['epoch 1/2', 'epoch 2/2']
  assert lines[3] == lines[0] and lines[6].startswith('Done in 3s (1s to the first steps): '
                                                      'test accuracy 50.00%, loss 1.')


@pytest.mark.slow
def test_the_training_loop_prints_nothing_and_tells_its_progress(tmp_path, capfd):
  """The library's run is silent; the command line's console hears of it in order."""

  class Recorder:
    def __init__(self):
      self.calls = []

    def start(self, **facts):
      self.calls.append(('start', facts['first_step'], facts['num_steps']))

    def update(self, step):
      self.calls.append(('update', step))

    def end_epoch(self, metrics):
      self.calls.append(('end_epoch', sorted(metrics)))

    def end(self, results, **facts):
      self.calls.append(('end', sorted(results), facts['workdir']))

  recorder = Recorder()
  train_on_mock_data(tiny_config(num_epochs=2), tmp_path, progress=recorder)
  assert capfd.readouterr().out == ''
  calls = recorder.calls
  assert calls[0] == ('start', 0, 8) and calls[-1] == ('end', ['test'], str(tmp_path))
  steps = [call[1] for call in calls if call[0] == 'update']
  assert steps == sorted(set(steps)) and steps[-1] == 8
  assert [call for call in calls if call[0] == 'end_epoch'] == 2 * [
      ('end_epoch', ['test_accuracy', 'test_loss', 'train_accuracy', 'train_loss'])]


def test_closing_block_has_accuracies_wall_time_and_paths(tmp_path):
  results = {'test': {'accuracy': 0.93125, 'loss': 0.254321},
             'test_ema': {'accuracy': 0.9401, 'loss': 0.2}}
  block = console.closing_block(results, wall_secs=3723, paths=console.run_paths('runs/r24', 'runs/r24/checkpoints'),
                                startup_secs=14.2, tta_views=6)
  assert block.splitlines() == [
      'Done in 1h02m (14s to the first steps): test accuracy 93.12% (6-view TTA), loss 0.2543; '
      'EMA weights 94.01%.',
      '  report       runs/r24/report.md',
      '  curves       runs/r24/curves_*.png',
      '  checkpoints  runs/r24/checkpoints',
      '  TensorBoard  tensorboard --logdir runs/r24']


@pytest.fixture
def absl_records():
  """Formats records as launch.py's console would; restores the absl handler afterwards."""
  handler = logging.get_absl_handler()
  filters, formatter = list(handler.filters), handler._current_handler.formatter
  console.quiet_logging()

  def shown(pathname, level, message):
    record = py_logging.LogRecord('absl', level, pathname, 1, message, (), None)
    return handler.format(record) if all(f(record) for f in handler.filters) else None

  yield shown
  handler.filters[:] = filters
  handler.setFormatter(formatter)


def test_logging_keeps_own_lines_plain_and_drops_third_party_info(absl_records):
  own = console.__file__.replace('console.py', 'train.py')
  assert absl_records(own, py_logging.INFO, 'Resumed from step 3.') == 'Resumed from step 3.'
  assert absl_records(own, py_logging.WARNING, 'Step 4 skipped.') == 'warning: Step 4 skipped.'
  venv = '/home/me/resnet_jax/.venv/lib/python3.11/site-packages'  # A clone named resnet_jax.
  for path, message in ((f'{venv}/jax/_src/xla_bridge.py', "Unable to initialize backend 'tpu'"),
                        (f'{venv}/clu/metric_writers/logging_writer.py',
                         '[4] train_loss=2.302585093')):
    assert absl_records(path, py_logging.INFO, message) is None
  third_party_warning = absl_records('/site-packages/jax/x.py', py_logging.WARNING, 'careful')
  assert third_party_warning.startswith('W') and third_party_warning.endswith('] careful')


def test_config_json_round_trip_keeps_tuples_and_per_layer_kernels(tmp_path):
  config = defaults.get_config()
  config.model.conv_kernel = (3, 3, 5)
  assert run_config.load(str(tmp_path)) is None
  run_config.save(config, str(tmp_path))
  loaded = run_config.load(str(tmp_path))
  assert loaded.to_dict() == config.to_dict()
  assert loaded.model.conv_kernel == (3, 3, 5) and loaded.model.skip_kernel == 1
  assert loaded.model.blocks == (3, 5, 3) and loaded.is_locked
  assert sorted(p.name for p in tmp_path.iterdir()) == ['config.json']


def test_config_json_of_an_older_version_takes_the_defaults_of_newer_fields(tmp_path):
  config = defaults.get_config()
  config.model.channels = (8, 16, 32)
  saved = json.loads(config.to_json())
  del saved['model']['whitening']  # Written before the field existed.
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  loaded = run_config.load(str(tmp_path), defaults=defaults.get_config())
  assert loaded.model.whitening is False and loaded.model.channels == (8, 16, 32)
  assert loaded.to_dict() == config.to_dict() and loaded.is_locked
  with pytest.raises(AttributeError):
    run_config.load(str(tmp_path)).model.whitening  # pylint: disable=expression-not-assigned
