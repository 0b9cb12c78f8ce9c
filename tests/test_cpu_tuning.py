"""The CPU tuning: XLA:CPU flags only on CPU-only runs, never over a user's own XLA_FLAGS, and
only those the installed XLA knows; the ReLU form that config.model.relu asks for."""

import os
import subprocess
import sys

import jax
import pytest

from resnet_jax import cpu_tuning


@pytest.mark.parametrize('environ,expected', [
    ({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': '--my_flag'}, '--my_flag'),
    ({'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': ''}, ''),
    ({'JAX_PLATFORMS': 'cuda'}, None),
    ({'JAX_PLATFORMS': 'cuda,cpu'}, None),
])
def test_flags_only_for_cpu_only_runs_without_user_flags(environ, expected):
  cpu_tuning.use_fast_cpu_flags(environ)
  assert environ.get('XLA_FLAGS') == expected


def test_a_cpu_only_run_gets_the_cpu_flags_that_xla_knows():
  environ = {'JAX_PLATFORMS': 'cpu'}
  cpu_tuning.use_fast_cpu_flags(environ)
  kept = environ['XLA_FLAGS'].split()
  assert kept and kept == [flag for flag in cpu_tuning.CPU_FLAGS if flag in kept]  # In order.


@pytest.mark.parametrize('relu', ['auto', 'max', 'select'])
def test_relu_form_resolves_auto_by_backend(relu):
  on_cpu = jax.default_backend() == 'cpu'
  expected = {'auto': 'select' if on_cpu else 'max'}.get(relu, relu)
  assert cpu_tuning.relu_form(relu) == expected


def test_a_flag_the_installed_xla_does_not_know_is_dropped_with_a_warning(tmp_path, caplog,
                                                                         monkeypatch):
  flags = cpu_tuning.CPU_FLAGS + ('--xla_no_such_flag=1',)
  kept = cpu_tuning.supported(flags, cache=str(tmp_path))
  assert '--xla_no_such_flag=1' not in kept and set(kept) <= set(flags)
  assert 'does not know --xla_no_such_flag=1; running without it.' in caplog.text
  started = subprocess.run(  # XLA starts with what is kept, as it did not with all of them.
      [sys.executable, '-c', 'import jax; print(jax.numpy.ones(2).sum())'],
      env=dict(os.environ, XLA_FLAGS=' '.join(kept), JAX_PLATFORMS='cpu'),
      capture_output=True, text=True)
  assert started.returncode == 0 and started.stdout.strip() == '2.0', started.stderr[-2000:]
  monkeypatch.setattr(subprocess, 'run', None)  # Known now for this jaxlib: nothing to start.
  assert cpu_tuning.supported(flags, cache=str(tmp_path)) == kept
