"""config.profile_steps: a JAX profiler trace of the chosen steps in the workdir (a real run's
trace is in test_trained.py)."""

import pytest

from resnet_jax import profiling, validation
from resnet_jax.errors import ConfigError
from tests.helpers import tiny_config


def test_chunks_end_at_the_profiled_steps_bounds():
  assert profiling.boundaries((10, 5)) == (10, 15)
  assert profiling.boundaries((10, 0)) == ()


@pytest.mark.parametrize('value', [(1,), (1, 2, 3), (-1, 2), (1, 2.5), (True, 1)])
def test_bad_profile_steps_are_refused(value):
  with pytest.raises(ConfigError, match='config.profile_steps=.*two integers >= 0'):
    validation.check_config(tiny_config(profile_steps=value), num_devices=1)


def test_a_window_past_the_end_of_the_run_is_refused(tmp_path):
  with pytest.raises(ConfigError, match=r'profile_steps=\(8, 3\) traces past .* \(10\)'):
    profiling.StepTrace(str(tmp_path), (8, 3), num_steps=10)
