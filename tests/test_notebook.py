"""notebooks/quickstart.ipynb, executed end to end with tiny settings, so that it cannot rot."""

import nbclient
import nbformat
import pytest

from tests.helpers import ROOT

NOTEBOOK = ROOT / 'notebooks' / 'quickstart.ipynb'


def execute(notebook, monkeypatch, workdir, data_dir):
  """Runs every cell in a fresh kernel at the repository's root, with tiny settings."""
  for name, value in {'CONFIG': 'configs/tiny.py', 'EPOCHS': '1', 'TRAIN_FRACTION': '0.1',
                      'DATA_DIR': str(data_dir), 'WORKDIR': str(workdir)}.items():
    monkeypatch.setenv(f'QUICKSTART_{name}', value)  # The kernel inherits the environment.
  nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3',
                          resources={'metadata': {'path': str(ROOT)}}).execute()
  return notebook


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path, monkeypatch, real_subset):
  notebook = execute(nbformat.read(NOTEBOOK, as_version=4), monkeypatch,
                     tmp_path / 'run', real_subset)
  outputs = [o for cell in notebook.cells if cell.cell_type == 'code' for o in cell.outputs]
  assert not [o for o in outputs if o.output_type == 'error']
  pictures = [o for o in outputs if 'image/png' in o.get('data', {})]
  assert len(pictures) == 5  # Two curves, the confusion matrix, the mistakes, the predictions.
  assert (tmp_path / 'run' / 'export' / 'model.jax').exists()
  text = ''.join(o.get('text', '') for o in outputs)
  assert "'accuracy':" in text and 'Step ' in text
