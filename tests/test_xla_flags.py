"""The launcher's XLA:CPU flags: only on CPU-only runs, never over a user's own XLA_FLAGS."""

import pytest

from resnet_jax import xla_flags


@pytest.mark.parametrize('environ,expected', [
    ({'JAX_PLATFORMS': 'cpu'}, ' '.join(xla_flags.CPU_FLAGS)),
    ({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': '--my_flag'}, '--my_flag'),
    ({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': ''}, ''),
    ({'JAX_PLATFORMS': 'cuda'}, None),
    ({'JAX_PLATFORMS': 'cuda,cpu'}, None),
])
def test_flags_only_for_cpu_only_runs_without_user_flags(environ, expected):
  xla_flags.use_fast_cpu_flags(environ)
  assert environ.get('XLA_FLAGS') == expected
