"""The manual in docs/: it builds with warnings as errors, and its generated references are whole
(every config field, every library module)."""

import html
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from resnet_jax import validation
from tests.helpers import ROOT

DOCS = ROOT / 'docs'


def test_every_module_of_the_library_is_in_the_api_reference():
  listed = re.findall(r'^ +(resnet_jax\.\w+)$', (DOCS / 'api.md').read_text(), re.MULTILINE)
  modules = {f'resnet_jax.{path.stem}' for path in (ROOT / 'resnet_jax').glob('*.py')
             if not path.stem.startswith('__')}
  assert modules - set(listed) == set(), 'modules missing from docs/api.md'
  assert set(listed) - modules == set(), 'docs/api.md lists modules that do not exist'
  assert len(listed) == len(set(listed)), 'docs/api.md lists a module twice'


@pytest.mark.slow
def test_docs_build_with_warnings_as_errors(tmp_path):
  if importlib.util.find_spec('sphinx') is None:
    if os.environ.get('CI') == 'true':
      pytest.fail("Sphinx is missing in CI: .ci/run installs the project with '.[test,docs]'")
    pytest.skip("Sphinx is not installed: pip install -e '.[docs]'")
  build = subprocess.run(
      [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html', str(DOCS),
       str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=False)
  assert build.returncode == 0, build.stderr

  def page(name: str) -> str:
    return html.unescape((tmp_path / f'{name}.html').read_text())

  assert 'Design and train residual networks for CIFAR-10' in page('index')
  reference = page('configuration')
  assert [name for name in validation.RULES if f'>{name}<' not in reference] == []
  assert 'B_i; the number of residual layers N is its length.' in reference  # A comment of its.
  assert 'an integer >= 0 (0 = global average pooling)' in reference  # What a rule allows.
  api = page('api')
  assert 'TrainedModel' in api and 'resnet_jax.load' in api and 'resnet_jax.get_config' in api
  assert 'Class probabilities (N, 10) of uint8 images' in api  # TrainedModel.predict's docstring.
  assert 'resnet_jax.train.train_and_evaluate' in page('_generated/api/resnet_jax.train')
  assert 'resnet_jax quickstart' in page('quickstart')
