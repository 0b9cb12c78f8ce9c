"""The first SIGINT asks training to stop after its step; a second one exits at once."""

import signal
import subprocess
import sys
import time

from tests.helpers import ROOT

WAIT_FOR_SIGNALS = '''
import time
from resnet_jax import preemption
with preemption.StopRequest() as stop:
  print('ready', flush=True)
  while stop.signum is None:
    time.sleep(0.01)
  print('stop requested', stop.signum, flush=True)
  time.sleep(60)  # A long step: only a second signal ends it early.
'''


def test_second_interrupt_exits_at_once():
  proc = subprocess.Popen([sys.executable, '-c', WAIT_FOR_SIGNALS], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == 'ready'
  proc.send_signal(signal.SIGINT)
  assert proc.stdout.readline().strip() == f'stop requested {int(signal.SIGINT)}'
  assert proc.poll() is None  # The first interrupt does not kill it.
  start = time.time()
  proc.send_signal(signal.SIGINT)
  assert proc.wait(timeout=30) == 128 + signal.SIGINT
  assert time.time() - start < 10
  assert 'SIGINT again: exiting now' in proc.stderr.read()
