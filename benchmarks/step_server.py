"""The protocol of the step servers that `compare_pytorch.py` drives."""

import sys
import time


def serve(run_step, warmup_steps: int):
  """Warms up, says 'ready', then runs one blocking step per line read and answers its seconds."""
  for _ in range(warmup_steps):
    run_step()
  print('ready', flush=True)
  for _ in sys.stdin:
    start = time.perf_counter()
    run_step()
    print(time.perf_counter() - start, flush=True)
