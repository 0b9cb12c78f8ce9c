"""A JAX profiler trace of chosen training steps (`config.profile_steps`), written into the
workdir, where TensorBoard's profile tab finds it; a Perfetto file is written beside it."""

import jax
from absl import logging

from resnet_jax.errors import ConfigError


def boundaries(profile_steps) -> tuple[int, ...]:
  """Where chunks of steps must end so that the trace holds exactly the chosen steps."""
  after, count = profile_steps
  return (after, after + count) if count else ()


class StepTrace:
  """Traces steps `after + 1` .. `after + count` for `profile_steps = (after, count)`; count 0
  traces nothing.

  The loop calls `before_chunk` and `after_chunk` around each chunk of steps. Both wait for the
  device, so the trace holds the chosen steps' work and nothing else; a run resumed past `after`
  is not traced.
  """

  def __init__(self, workdir: str, profile_steps, num_steps: int):
    self.workdir = workdir
    self.window = boundaries(profile_steps)
    if self.window and self.window[1] > num_steps:
      raise ConfigError(f'config.profile_steps={tuple(profile_steps)} traces past the run\'s '
                        f'last step ({num_steps:,}); choose steps within it')
    self._tracing = False

  def before_chunk(self, start: int, state) -> None:
    if self.window and start == self.window[0]:
      jax.block_until_ready(state)  # Earlier steps still running stay out of the trace.
      jax.profiler.start_trace(self.workdir, create_perfetto_trace=True)
      self._tracing = True

  def after_chunk(self, end: int, state) -> None:
    if self._tracing and end == self.window[1]:
      jax.block_until_ready(state)
      jax.profiler.stop_trace()
      self._tracing = False
      logging.info('Traced steps %d-%d into %s/plugins/profile (tensorboard --logdir %s, '
                   'Profile tab).', self.window[0] + 1, end, self.workdir, self.workdir)
