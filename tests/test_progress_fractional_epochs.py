"""The console of a run that ends mid-epoch (`num_epochs=0.2`, `2.5`): the totals shown are the
run's real length and the last, partial epoch's bar ends at 100% of the steps it trains."""

import io
import re

from resnet_jax import console, defaults


class Clock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def run(num_steps, steps_per_epoch):
  """Trains `num_steps` at 1 s per step on a terminal, ending epochs as train.py does; returns
  what was drawn (bars and lines, in order)."""
  clock, stream = Clock(), io.StringIO()
  progress = console.Progress(num_steps=num_steps, steps_per_epoch=steps_per_epoch, batch_size=8,
                              stream=stream, tty=True, redraw_secs=0, clock=clock)
  for step in range(1, num_steps + 1):
    clock.now = float(step)
    progress.update(step)
    if step % steps_per_epoch == 0 or step == num_steps:
      progress.end_epoch({'test_accuracy': 0.5})
  return [shown for part in stream.getvalue().split('\r\x1b[K') for shown in part.split('\n')
          if shown]


def without_rates(shown):
  return re.sub(r'(  \S+ img/s)?(  ETA \S+)?$', '', shown)


def test_a_fifth_of_an_epoch_is_epoch_1_of_0_2_and_its_bar_ends_at_100_percent():
  shown = run(num_steps=4, steps_per_epoch=20)  # num_epochs=0.2.
  assert [without_rates(s) for s in shown] == [
      'epoch 1/0.2 [######------------------]  25% 1/4',
      'epoch 1/0.2 [############------------]  50% 2/4',
      'epoch 1/0.2 [##################------]  75% 3/4',
      'epoch 1/0.2 [########################] 100% 4/4',
      'epoch 1/0.2  test_accuracy 0.5']
  assert shown[-1].startswith('epoch 1/0.2  test_accuracy 0.5  8 img/s  ETA 0s')


def test_two_and_a_half_epochs_end_with_epoch_3_of_2_5():
  shown = run(num_steps=25, steps_per_epoch=10)  # num_epochs=2.5.
  epoch_lines = [s for s in shown if '[' not in s]
  assert [line.split('  ')[0] for line in epoch_lines] == ['epoch 1/2.5', 'epoch 2/2.5',
                                                           'epoch 3/2.5']
  bars = [without_rates(s) for s in shown if s.startswith('epoch 3/2.5 [')]
  assert bars[0] == 'epoch 3/2.5 [####--------------------]  20% 1/5'
  assert bars[-1] == 'epoch 3/2.5 [########################] 100% 5/5'
  full = [without_rates(s) for s in shown if s.startswith('epoch 2/2.5 [')]
  assert full[-1] == 'epoch 2/2.5 [########################] 100% 10/10'


def test_setup_line_states_the_fractional_length():
  line = console.setup_line(num_devices=1, platform='cpu', model_config=defaults.get_config().model,
                            num_params=1000, data='data', pipeline='device', num_train=2560,
                            num_steps=4, steps_per_epoch=20, batch_size=128)
  assert '4 steps (0.2 epochs of 20, batch 128)' in line
  assert [console.epoch_count(n, 390) for n in (78_000, 975, 13)] == ['200', '2.5', '0.0333']
