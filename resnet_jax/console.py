"""What a run prints to the console: a set-up line, a progress bar per epoch, one line of metrics
per epoch and a closing block. TensorBoard gets every metric through `event_files`; this module
only decides what a person reads of a training run.

The command line (`cli`) and `resnet_jax.train_model` give the training loop a `TrainingConsole`
(`train.train_and_evaluate(progress=...)`), which it calls on process 0::

  start(**facts)            once, before the first step: prints the set-up line (`setup_line`);
  update(step)              at any step boundaries: every step or every chunk of steps;
  end_epoch(metrics)        after an epoch's evaluation (and after the last, partial one);
  end(results, ...)         after the final reports: prints the closing block (`closing_block`).

`quiet_logging()` (from the command line) removes third-party INFO chatter from the log.
"""

import logging as py_logging
import os
import sys
import time

from absl import logging

from resnet_jax import designs

BAR_WIDTH = 24
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep  # resnet_jax's own log records.


def quiet_logging() -> None:
  """Keeps resnet_jax's own log lines (plain, warnings prefixed) and others' warnings.

  Gone: third-party INFO such as JAX's backend probing ("Unable to initialize backend 'tpu'")
  and Orbax's save steps.
  """
  handler = logging.get_absl_handler()
  handler.addFilter(lambda record: record.levelno >= py_logging.WARNING or _own(record))
  handler.setFormatter(_Formatter())


def _own(record) -> bool:
  return os.path.abspath(record.pathname).startswith(_PACKAGE)


class _Formatter(py_logging.Formatter):
  """resnet_jax's lines as plain text; everything else in absl's usual format."""

  def __init__(self):
    super().__init__()
    self._absl = logging.PythonFormatter()

  def format(self, record):
    if not _own(record):
      return self._absl.format(record)
    message = record.getMessage()
    return message if record.levelno < py_logging.WARNING else (
        f'{record.levelname.lower()}: {message}')


def significant(value, digits: int = 4) -> str:
  """`value` to `digits` significant digits (integers as they are)."""
  if isinstance(value, int):
    return str(value)
  return f'{float(value):.{digits}g}'


def format_metrics(metrics: dict) -> str:
  """'name value' pairs at 4 significant digits, in the order given."""
  return '  '.join(f'{name} {significant(value)}' for name, value in metrics.items())


def duration(seconds: float) -> str:
  """'45s', '12m05s', '3h02m'."""
  seconds = int(round(seconds))
  if seconds < 60:
    return f'{seconds}s'
  if seconds < 3600:
    return f'{seconds // 60}m{seconds % 60:02d}s'
  return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'


def setup_line(*, num_devices: int, platform: str, model_config, num_params: int, data: str,
               pipeline: str, num_train: int, num_steps: int, steps_per_epoch: int,
               batch_size: int, first_step: int = 0, num_val: int = 0, val_note: str = '') -> str:
  """One line of what is about to run: devices, design, parameters, data and steps.

  `num_val` validation images held out of the training set, for the reason `val_note` if given.
  """
  steps = f'{num_steps:,} steps'
  if first_step:
    steps = f'steps {first_step + 1:,}-{num_steps:,}'
  epochs = epoch_count(num_steps, steps_per_epoch)
  images = f'{num_train:,} train images'
  if num_val:
    images = (f'{num_train:,} train + {num_val:,} validation images'
              + (f' ({val_note})' if val_note else ''))
  return (f'{num_devices} {platform} device{"s" if num_devices > 1 else ""} | '
          f'{designs.Design.of(model_config).text} | {num_params:,} parameters | {data}, {images}, '
          f'{pipeline} pipeline | {steps} ({epochs} epoch{"s" if epochs != "1" else ""} '
          f'of {steps_per_epoch:,}, batch {batch_size})')


def epoch_count(num_steps: int, steps_per_epoch: int) -> str:
  """A run's length in epochs: '200', or '2.5' and '0.0333' when it ends mid-epoch."""
  epochs = num_steps / steps_per_epoch
  return str(int(epochs)) if epochs.is_integer() else significant(epochs, 3)


class Progress:
  """A progress bar for the current epoch with images/s and the run's ETA.

  The epoch total is the run's real length, fractional if it ends mid-epoch ('epoch 3/2.5'), and
  the last, partial epoch's bar counts the steps that epoch trains, so it too ends at 100%.
  `update(step)` may come at any step boundary, e.g. once per chunk of steps. On a terminal the
  bar is redrawn in place (at most every `redraw_secs`); elsewhere (pytest, CI, `| tee`) it is a
  plain line at most every `line_secs`, so logs stay readable. Rates start at the first update,
  so the first step's compilation does not count; the ETA includes evaluation time.
  """

  def __init__(self, *, num_steps: int, steps_per_epoch: int, batch_size: int,
               first_step: int = 0, stream=None, tty: bool | None = None,
               redraw_secs: float = 0.2, line_secs: float = 60.0, clock=time.monotonic):
    self.num_steps, self.steps_per_epoch, self.batch_size = num_steps, steps_per_epoch, batch_size
    self.stream = stream or sys.stdout
    self.tty = self.stream.isatty() if tty is None else tty
    self.interval = redraw_secs if self.tty else line_secs
    self.clock = clock
    self.step = first_step
    self._total = epoch_count(num_steps, steps_per_epoch)
    self._run_mark = None  # (step, time) of the first update: rates and the ETA count from it.
    self._epoch_mark = None  # (step, time) where this epoch's images/s counts from.
    self._shown_at = None if self.tty else clock()  # When the bar was last drawn.
    self._bar_open = False  # A bar without a newline is on the terminal.

  def images_per_sec(self) -> float | None:
    """Training images/s in this epoch, once two updates are apart."""
    if self._epoch_mark is None or self.step <= self._epoch_mark[0]:
      return None
    step, start = self._epoch_mark
    elapsed = self.clock() - start
    return (self.step - step) * self.batch_size / elapsed if elapsed > 0 else None

  def eta_secs(self) -> float | None:
    """Seconds left in the run at the pace since the first update (evaluations included)."""
    if self._run_mark is None or self.step <= self._run_mark[0]:
      return None
    step, start = self._run_mark
    return (self.num_steps - self.step) * (self.clock() - start) / (self.step - step)

  def _epoch(self) -> int:
    """The epoch that `self.step` is in (1-based; its last step counts in it)."""
    return max(1, -(-self.step // self.steps_per_epoch))

  def bar(self) -> str:
    """'epoch 3/200 [########----------------]  35% 137/390  612 img/s  ETA 3h12m'."""
    epoch = self._epoch()
    first = (epoch - 1) * self.steps_per_epoch  # Steps done before this epoch.
    done = self.step - first
    steps = min(self.steps_per_epoch, self.num_steps - first)  # Fewer in a last, partial epoch.
    fraction = done / steps
    filled = int(fraction * BAR_WIDTH)
    head = (f'epoch {epoch}/{self._total} '
            f'[{"#" * filled}{"-" * (BAR_WIDTH - filled)}] {fraction:4.0%} {done}/{steps}')
    return '  '.join([head] + self._rates())

  def _rates(self) -> list[str]:
    rates = []
    if (speed := self.images_per_sec()) is not None:
      rates.append(f'{significant(speed)} img/s')
    if (eta := self.eta_secs()) is not None:
      rates.append(f'ETA {duration(eta)}')
    return rates

  def update(self, step: int) -> None:
    """Training has reached `step` (the number of steps done)."""
    now = self.clock()
    self.step = step
    if self._run_mark is None:
      self._run_mark = self._epoch_mark = (step, now)
    if self._shown_at is not None and now - self._shown_at < self.interval:
      return
    self._shown_at = now
    if self.tty:
      self.stream.write('\r\x1b[K' + self.bar())
      self._bar_open = True
    else:
      self.stream.write(self.bar() + '\n')
    self.stream.flush()

  def end_epoch(self, metrics: dict) -> None:
    """Replaces the bar with the line of the epoch just trained: its metrics, images/s and the
    run's ETA.

    Call it after the epoch's evaluation (its time then counts in the ETA), and after the last
    steps of a run that ends mid-epoch; the next epoch's images/s counts from here.
    """
    line = '  '.join([f'epoch {self._epoch()}/{self._total}',
                      format_metrics(metrics)] + self._rates())
    self._epoch_mark = (self.step, self.clock())
    self.stream.write(('\r\x1b[K' if self._bar_open else '') + line + '\n')
    self.stream.flush()
    self._bar_open, self._shown_at = False, None if self.tty else self.clock()


def run_paths(workdir: str, checkpoints: str) -> dict[str, str]:
  """Where a run's outputs are: report, curves, checkpoints and TensorBoard logs."""
  return {'report': os.path.join(workdir, 'report.md'),
          'curves': os.path.join(workdir, 'curves_*.png'),
          'checkpoints': checkpoints,
          'TensorBoard': f'tensorboard --logdir {workdir}'}


def closing_block(results: dict[str, dict], *, wall_secs: float, paths: dict[str, str],
                  startup_secs: float | None = None, tta_views: int = 1) -> str:
  """The end of a run: wall time and start-up (both since launch), final test accuracy and loss
  (EMA too, if kept), paths.

  `results`: {'test': {'accuracy', 'loss', ...}, optionally 'test_ema': ...}, as in the reports;
  `paths`: label -> path (`run_paths`); `tta_views`: the accuracies average the predictions over
  this many test-time views of each image.
  """
  head = f'Done in {duration(wall_secs)}'
  if startup_secs is not None:
    head += f' ({duration(startup_secs)} to the first steps)'
  if 'test' in results:
    test = results['test']
    tta = f' ({tta_views}-view TTA)' if tta_views > 1 else ''
    head += (f': test accuracy {test["accuracy"]:.2%}{tta}, '
             f'loss {significant(test["loss"])}')
    if 'test_ema' in results:
      head += f'; EMA weights {results["test_ema"]["accuracy"]:.2%}'
  width = max(len(label) for label in paths) if paths else 0
  return '\n'.join([head + '.'] + [f'  {label:<{width}}  {path}'
                                   for label, path in paths.items()])


class TrainingConsole:
  """A training run on the console: the set-up line, a `Progress` bar and line per epoch, and
  the closing block. One console serves run after run (a search's trials)."""

  def __init__(self, stream=None):
    self.stream = stream or sys.stdout
    self.progress = None

  def start(self, **facts) -> None:
    """`facts`: `setup_line`'s arguments."""
    print(setup_line(**facts), file=self.stream, flush=True)
    self.progress = Progress(num_steps=facts['num_steps'],
                             steps_per_epoch=facts['steps_per_epoch'],
                             batch_size=facts['batch_size'], first_step=facts['first_step'],
                             stream=self.stream)

  def update(self, step: int) -> None:
    self.progress.update(step)

  def end_epoch(self, metrics: dict) -> None:
    self.progress.end_epoch(metrics)

  def end(self, results: dict[str, dict], *, workdir: str, checkpoints: str, wall_secs: float,
          startup_secs: float | None, tta_views: int) -> None:
    print(closing_block(results, wall_secs=wall_secs, startup_secs=startup_secs,
                        paths=run_paths(workdir, checkpoints), tta_views=tta_views),
          file=self.stream, flush=True)
