"""SIGTERM / SIGINT become a request to stop cleanly after the current step."""

import os
import signal
import sys
import threading

from absl import logging


class Preempted(Exception):
  """Training stopped on a signal after saving a checkpoint; exit with 128 + signal number."""

  def __init__(self, signum: int, step: int, directory):
    self.exit_code = 128 + signum
    super().__init__(f'stopped by {signal.Signals(signum).name} after step {step}; its '
                     f'checkpoint is in {directory}. Run the same command to resume.')


class StopRequest:
  """While active, the first SIGTERM or SIGINT sets `signum`; a second one exits at once."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signum = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():  # Python's rule for handlers.
      self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
    return self

  def __exit__(self, *exc):
    for s, handler in self._previous.items():
      signal.signal(s, handler)

  def _handle(self, signum, frame):
    del frame
    if self.signum is not None:
      print(f'{signal.Signals(signum).name} again: exiting now, without a checkpoint.',
            file=sys.stderr, flush=True)
      os._exit(128 + signum)
    self.signum = signum
    logging.warning('%s received: finishing this step, saving a checkpoint, then exiting '
                    '(send it again to exit at once).', signal.Signals(signum).name)
