"""The CPU tuning: XLA:CPU flags only on CPU-only runs, never over a user's own XLA_FLAGS; the
ReLU form that config.model.relu asks for."""

import jax
import pytest

from resnet_jax import cpu_tuning


@pytest.mark.parametrize('environ,expected', [
    ({'JAX_PLATFORMS': 'cpu'}, ' '.join(cpu_tuning.CPU_FLAGS)),
    ({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': '--my_flag'}, '--my_flag'),
    ({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': ''}, ''),
    ({'JAX_PLATFORMS': 'cuda'}, None),
    ({'JAX_PLATFORMS': 'cuda,cpu'}, None),
])
def test_flags_only_for_cpu_only_runs_without_user_flags(environ, expected):
  cpu_tuning.use_fast_cpu_flags(environ)
  assert environ.get('XLA_FLAGS') == expected


@pytest.mark.parametrize('relu', ['auto', 'max', 'select'])
def test_relu_form_resolves_auto_by_backend(relu):
  on_cpu = jax.default_backend() == 'cpu'
  expected = {'auto': 'select' if on_cpu else 'max'}.get(relu, relu)
  assert cpu_tuning.relu_form(relu) == expected
