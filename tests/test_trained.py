"""Using a trained run: what it leaves (run.json, the reports' pictures and the checkpoint early
stopping chose, a profiler trace, a row in the table of runs), the Python API (the docs' example),
--mode=predict, --mode=export, and loading on one device what several devices wrote. One tiny run
on the real subset serves all."""

import csv
import gzip
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import jax
import numpy as np
import pytest
from PIL import Image

import resnet_jax
from resnet_jax import console, early_stopping, event_files, run_record, train
from resnet_jax.errors import ConfigError
from tests.helpers import PNG, REAL_SUBSET, ROOT, tiny_config, with_host_devices

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
  """A tiny run with early stopping (so a best checkpoint), EMA, test-time flips, Lookahead (the
  model is the slow weights), a whitening stem (its kernel is a batch statistic) and a profiler
  trace of steps 3 to 5. What it printed is in console.txt beside it."""
  if not (REAL_SUBSET / 'test_batch').exists():
    pytest.skip(f'the real CIFAR-10 subset is not at {REAL_SUBSET}')
  workdir = tmp_path_factory.mktemp('trained') / 'run'
  config = tiny_config(num_epochs=2, batch_size=32, eval_batch_size=64, tta_flip=True,
                       early_stopping_patience=1, ema_decay=0.9, **{
                           'data.dir': str(REAL_SUBSET), 'data.train_fraction': 0.1,
                           'model.whitening': True, 'optimizer.lookahead_sync_period': 2,
                           'profile_steps': (2, 3)})
  printed = io.StringIO()  # What the command line's console shows of the run.
  train.train_and_evaluate(config, str(workdir), progress=console.TrainingConsole(printed))
  (workdir.parent / 'console.txt').write_text(printed.getvalue())
  return workdir


def report(workdir, name='report'):
  return json.loads((workdir / f'{name}.json').read_text())


def correct(summary) -> int:
  return int(np.trace(summary['confusion_matrix']))


def docs_example() -> str:
  """The first python block of docs/trained_models.md, "Using a trained model"."""
  section = (ROOT / 'docs' / 'trained_models.md').read_text()
  return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_a_run_leaves_its_record_pictures_and_a_row_in_the_table_of_runs(run_dir):
  record = run_record.read(str(run_dir))
  # 517 images (0.1 of 5,169), 52 of them held out for early stopping: 465 // 32 steps an epoch.
  assert record['steps_per_epoch'] == 14 and record['num_steps'] == 28
  (session,) = record['sessions']
  assert session['outcome'] == 'finished' and session['last_step'] == 28
  assert session['platform'] == 'cpu' and session['device_count'] >= 1
  assert 0 < session['last_seen_unix'] - session['started_unix'] < 600
  for name in ('report', 'report_ema'):
    markdown = (run_dir / f'{name}.md').read_text()
    for picture in (f'{name}_confusion.png', f'{name}_mistakes.png'):
      assert f']({picture})' in markdown
      assert (run_dir / picture).read_bytes()[:8] == PNG
  summary = report(run_dir)
  assert summary['num_images'] == 1017

  runs = subprocess.run([sys.executable, 'launch.py', '--mode=runs',
                         f'--workdir={run_dir.parent}'], cwd=ROOT, capture_output=True, text=True,
                        timeout=300, check=False)
  assert runs.returncode == 0, runs.stderr[-3000:]
  header, row = runs.stdout.splitlines()[:2]
  assert header.split()[:2] == ['run', 'design']
  cells = re.split(r' {2,}', row)
  assert cells[:3] == ['run', 'B=1,1 C=4,8 F=3 K=1 P=global', '2,234']  # The set-up line's.
  assert cells[4] == '2/2'  # Epochs done, of planned.
  assert cells[6] == f'{summary["accuracy"]:.2%}'  # The report's: of the best checkpoint.
  assert float(cells[5].rstrip('%')) >= float(cells[6].rstrip('%'))  # Best of the epochs.
  assert cells[-2:] == [f'{session["device_count"]}x cpu', 'finished']
  assert (run_dir.parent / 'runs.csv').exists() and (run_dir.parent / 'runs.png').exists()


def test_early_stopping_holds_out_validation_and_never_watches_the_test_set(run_dir):
  """Patience without a validation split: 10% of the training set is held out, the set-up line
  says so, the validation loss chooses the checkpoint and the report says which split chose it."""
  setup = (run_dir.parent / 'console.txt').read_text().splitlines()[0]
  assert ('465 train + 52 validation images (held out for early stopping: '
          'config.data.val_fraction is 0, so 10% by default)') in setup
  scalars = event_files.read_scalars(str(run_dir))
  assert 'val_loss' in scalars and 'test_loss' in scalars
  best_epoch = early_stopping.EarlyStopping(str(run_dir), 1).best_epoch
  val_losses = {step // 14: loss for step, loss in scalars['val_loss'].items()}  # 14 steps/epoch.
  assert best_epoch == min(val_losses, key=val_losses.get)  # The validation loss chose it.
  selected_by = (f'the checkpoint with the lowest validation loss (after epoch {best_epoch}), '
                 'kept by early stopping')
  assert report(run_dir)['selected_by'] == selected_by
  assert report(run_dir)['step'] == 14 * best_epoch
  assert f'Weights of step {14 * best_epoch}: {selected_by}.' in (run_dir / 'report.md').read_text()


def test_a_run_writes_a_trace_of_the_chosen_steps_for_tensorboard_and_perfetto(run_dir):
  runs = list((run_dir / 'plugins' / 'profile').iterdir())
  assert len(runs) == 1 and list(runs[0].glob('*.xplane.pb'))  # TensorBoard's profile tab.
  with gzip.open(runs[0] / 'perfetto_trace.json.gz') as f:
    events = json.load(f)['traceEvents']
  names = [event.get('name', '') for event in events]
  assert 'PjitFunction(chunk_fn)' in names  # The compiled steps ran in the trace.
  chunks = [name for name in names if re.fullmatch(r'\$train\.py:\d+ train_chunk', name)]
  if jax.default_backend() == 'cpu':  # One step a chunk: steps 3, 4 and 5, no others.
    assert len(chunks) == 3


def test_the_docs_example_reproduces_the_report(run_dir):
  code = docs_example()
  assert "resnet_jax.load('runs/tiny')" in code
  scope = {}
  exec(code.replace("'runs/tiny'", repr(str(run_dir))), scope)  # pylint: disable=exec-used
  summary = report(run_dir)
  labels = scope['labels']
  assert len(labels) == summary['num_images'] == 1017
  assert int(np.sum(scope['probabilities'].argmax(-1) == labels)) == correct(summary)
  evaluated = scope['model'].evaluate(scope['images'], labels)
  assert evaluated['accuracy'] * len(labels) == pytest.approx(correct(summary), abs=1e-6)
  assert evaluated['loss'] == pytest.approx(summary['loss'], rel=1e-5)
  np.testing.assert_allclose(scope['probabilities'].sum(-1), 1, rtol=1e-5)


def test_load_picks_checkpoints_from_relative_paths(run_dir, monkeypatch):
  monkeypatch.chdir(run_dir.parent)
  model = resnet_jax.load(run_dir.name)  # Relative: Orbax alone would refuse it.
  assert model.checkpoint == str(run_dir / 'checkpoints_best' / str(model.step))
  assert set(model.variables) == {'params', 'batch_stats'}
  assert model.variables['batch_stats']['stem_whitening']['kernel'].shape == (2, 2, 3, 24)
  assert model.workdir == str(run_dir)
  assert model.class_names[3] == 'cat' and model.config.tta_flip
  latest = resnet_jax.load(run_dir.name, 'latest')
  steps = sorted(int(s) for s in os.listdir(run_dir / 'checkpoints'))
  assert latest.step == steps[-1] and resnet_jax.load(run_dir.name, 'best').step == model.step
  assert resnet_jax.load(run_dir.name, steps[0]).step == steps[0]
  with pytest.raises(ConfigError, match='no checkpoint of step 3 in .*steps there'):
    resnet_jax.load(run_dir.name, 3)

  images, labels = model.test_split()
  ema = model.ema().evaluate(images, labels)
  assert ema['accuracy'] * len(labels) == pytest.approx(correct(report(run_dir, 'report_ema')),
                                                        abs=1e-6)
  one_view = model.predict(images[:16], tta=False, batch_size=5)
  assert one_view.shape == (16, 10)
  assert not np.allclose(one_view, model.predict(images[:16]))  # Flips change probabilities.


BLOCKED = ('resnet_jax', 'configs', 'flax', 'optax', 'orbax', 'clu', 'tensorflow',
           'ml_collections')
EXPORT_LOADER = f"""
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path, target=None):
    if name.split('.')[0] in {BLOCKED!r}:
      raise ImportError(f'{{name}} is not importable here')
sys.meta_path.insert(0, Blocker())
import json
import numpy as np
from jax import export
export_dir, images, out = sys.argv[1:]
with open(f'{{export_dir}}/model.jax', 'rb') as f:
  exported = export.deserialize(f.read())
assert json.load(open(f'{{export_dir}}/model.json'))['class_names'][0] == 'airplane'
np.save(out, np.asarray(exported.call(np.load(images))))
try:
  import resnet_jax
except ImportError:
  print('blocked as expected')
"""

API_WITHOUT_TENSORFLOW = """
import sys
import numpy as np
import resnet_jax
model = resnet_jax.load(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2])))
assert 'tensorflow' not in sys.modules, [m for m in sys.modules if 'tensorflow' in m][:5]
print('no tensorflow')
"""


def test_export_runs_without_the_project_and_api_imports_no_tensorflow(run_dir, tmp_path):
  images = np.random.default_rng(0).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
  np.save(tmp_path / 'images.npy', images)
  expected = resnet_jax.load(str(run_dir)).predict(images)

  export = subprocess.run(
      [sys.executable, 'launch.py', f'--workdir={run_dir}', '--mode=export',
       f'--output={tmp_path / "export"}'], cwd=ROOT, capture_output=True, text=True)
  assert export.returncode == 0, export.stderr
  assert 'for cpu and cuda' in export.stdout
  assert sorted(os.listdir(tmp_path / 'export')) == ['model.jax', 'model.json']

  loader = subprocess.run(  # In tmp_path, off the repository, with the imports blocked.
      [sys.executable, '-c', EXPORT_LOADER, str(tmp_path / 'export'),
       str(tmp_path / 'images.npy'), str(tmp_path / 'exported.npy')],
      cwd=tmp_path, env=os.environ | {'PYTHONPATH': ''}, capture_output=True, text=True)
  assert loader.returncode == 0, loader.stderr
  assert 'blocked as expected' in loader.stdout
  np.testing.assert_allclose(np.load(tmp_path / 'exported.npy'), expected, rtol=1e-5, atol=1e-7)

  api = subprocess.run(
      [sys.executable, '-c', API_WITHOUT_TENSORFLOW, str(run_dir), str(tmp_path / 'images.npy'),
       str(tmp_path / 'api.npy')], cwd=ROOT, capture_output=True, text=True)
  assert api.returncode == 0, api.stderr
  np.testing.assert_allclose(np.load(tmp_path / 'api.npy'), expected, rtol=1e-6, atol=1e-7)


JAX_ALONE = """
import json, sys
import numpy as np
from jax import export
export_dir, images, out = sys.argv[1:]
with open(f'{export_dir}/model.jax', 'rb') as f:
  exported = export.deserialize(f.read())
np.save(out, np.asarray(exported.call(np.load(images))))
"""


def test_the_export_runs_where_only_what_model_json_requires_is_installed(run_dir, tmp_path):
  """A fresh virtual environment with `pip install jax flatbuffers` (model.json's `requires`,
  as README says) and nothing else: the export classifies the test images as the run did."""
  model = resnet_jax.load(str(run_dir))
  model.export(str(tmp_path / 'export'))
  requires = json.loads((tmp_path / 'export' / 'model.json').read_text())['requires']
  assert requires == 'pip install jax flatbuffers'
  images, labels = model.test_split()
  np.save(tmp_path / 'images.npy', images)
  venv = tmp_path / 'venv'
  subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
  python = str(venv / 'bin' / 'python')
  pip = [sys.executable, '-m', 'pip', '--python', python]  # This pip, installing into the venv.
  # A user's environment: pip's own cache (the tests' XDG_CACHE_HOME is empty), no XLA flags.
  environ = {k: v for k, v in os.environ.items() if k not in ('XDG_CACHE_HOME', 'XLA_FLAGS')}
  command, packages = requires.split()[:2], requires.split()[2:]
  assert command == ['pip', 'install']
  install = subprocess.run([*pip, 'install', '-q', '--no-compile', *packages], env=environ,
                           capture_output=True, text=True, timeout=1200)
  assert install.returncode == 0, install.stderr[-3000:]
  listed = subprocess.run([*pip, 'list', '--format=json'], env=environ, capture_output=True,
                          text=True, check=True).stdout
  installed = {package['name'].lower() for package in json.loads(listed)}
  assert {'jax', 'flatbuffers'} <= installed and not installed & {'resnet-jax', 'flax', 'optax',
                                                                  'orbax-checkpoint', 'tensorflow'}
  run = subprocess.run([python, '-c', JAX_ALONE, str(tmp_path / 'export'),
                        str(tmp_path / 'images.npy'), str(tmp_path / 'out.npy')],
                       cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  probabilities = np.load(tmp_path / 'out.npy')
  assert int(np.sum(probabilities.argmax(-1) == labels)) == correct(report(run_dir))  # Exactly.
  np.testing.assert_allclose(probabilities, model.predict(images), rtol=1e-4, atol=1e-6)


def test_predict_mode_writes_the_csv_or_fails_before_writing(run_dir, tmp_path):
  model = resnet_jax.load(str(run_dir))
  test_images, _ = model.test_split()
  (tmp_path / 'photos').mkdir()
  for i in range(3):
    Image.fromarray(test_images[i]).save(tmp_path / 'photos' / f'{i}.png')
  np.save(tmp_path / 'batch.npy', test_images[3:20])
  output = tmp_path / 'out' / 'predictions.csv'
  proc = subprocess.run(
      [sys.executable, 'launch.py', f'--workdir={run_dir}', '--mode=predict',
       f'--inputs={tmp_path / "photos"}', str(tmp_path / 'batch.npy'), f'--output={output}'],
      cwd=ROOT, capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr
  with open(output, newline='') as f:
    rows = list(csv.DictReader(f))
  expected = model.predict(test_images[:20])
  assert [r['input'] for r in rows[:4]] == [str(tmp_path / 'photos' / '0.png'),
                                            str(tmp_path / 'photos' / '1.png'),
                                            str(tmp_path / 'photos' / '2.png'),
                                            f'{tmp_path / "batch.npy"}[0]']
  assert [r['class'] for r in rows] == [model.class_names[i] for i in expected.argmax(-1)]
  np.testing.assert_allclose([float(r['probability']) for r in rows], expected.max(-1),
                             atol=6e-5)
  lines = proc.stdout.splitlines()
  assert lines[0].split() == ['input', 'class', 'probability']
  assert '... and 10 more' in proc.stdout and '20 images in' in proc.stdout

  # A truncated picture among good inputs: one line naming it, exit status 2, no CSV.
  data = (tmp_path / 'photos' / '0.png').read_bytes()
  (tmp_path / 'photos' / 'broken.png').write_bytes(data[:len(data) // 2])
  fresh = tmp_path / 'fresh.csv'
  bad = subprocess.run(
      [sys.executable, 'launch.py', f'--workdir={run_dir}', '--mode=predict',
       f'--inputs={tmp_path / "batch.npy"},{tmp_path / "photos"}', f'--output={fresh}'],
      cwd=ROOT, capture_output=True, text=True)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1].startswith(
      f'error: {tmp_path / "photos" / "broken.png"} is not a readable image')
  assert not fresh.exists() and not pathlib.Path(f'{fresh}.tmp').exists()


TWO_DEVICE_WRITER = """
import sys
import jax
import jax.numpy as jnp
import numpy as np
from configs import tiny
from resnet_jax import checkpoints, cifar10, device_data, models, parallel, run_config, steps
workdir, out = sys.argv[1:]
config = tiny.get_config()
config.model.whitening, config.tta_flip = True, True
mesh = parallel.make_mesh()
images = device_data.synthetic(40)[0]
built = steps.build(config, mesh, steps_per_epoch=1, num_steps=1)
state = built.init_state(models.patch_whitening_kernel(cifar10.normalize(images)))
assert {len(x.sharding.device_set) for x in jax.tree.leaves(state)} == {2}
manager = checkpoints.create_manager(workdir, keep=1)
checkpoints.save(manager, state)
manager.wait_until_finished()
run_config.save(config, workdir)
probabilities = jax.jit(lambda variables, images: jnp.exp(steps.tta_log_probs(
    built.model.apply, variables, cifar10.normalize(images), tta_flip=True)))(
        {'params': state.params, 'batch_stats': state.batch_stats}, images)
np.savez(out, images=images, probabilities=np.asarray(probabilities))
"""


def test_a_checkpoint_of_two_devices_loads_on_one(tmp_path):
  # The state is written as a run's on a 2-device mesh (replicated), but not trained: XLA:CPU's
  # collectives (the gradient mean) can starve on a busy 2-core machine until XLA aborts.
  proc = subprocess.run(
      [sys.executable, '-c', TWO_DEVICE_WRITER, str(tmp_path / 'run'), str(tmp_path / 'out.npz')],
      cwd=ROOT, env=with_host_devices(2), capture_output=True, text=True)
  assert proc.returncode == 0, proc.stderr
  import jax  # pylint: disable=g-import-not-at-top
  assert jax.device_count() == 1
  model = resnet_jax.load(str(tmp_path / 'run'))
  assert {d for x in jax.tree.leaves(model.variables) for d in x.devices()} == {jax.devices()[0]}
  written = np.load(tmp_path / 'out.npz')
  np.testing.assert_allclose(model.predict(written['images']), written['probabilities'],
                             rtol=1e-5, atol=1e-7)


WHEEL_USER = r'''
import pathlib, sys
import numpy as np
import resnet_jax
assert pathlib.Path(resnet_jax.__file__).is_relative_to(sys.prefix), resnet_jax.__file__
try:
  import configs
except ImportError:
  print('no configs package')
model = resnet_jax.load(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2])))
'''


def test_the_wheel_installs_the_library_alone_and_runs_off_the_checkout(run_dir, tmp_path):
  """The built wheel holds `resnet_jax` only (no top-level `configs`) and, installed into a fresh
  environment, loads a run, predicts and answers the `resnet-jax` command from a folder that is
  not the checkout. The environment takes the wheel's dependencies from this one (a .pth file):
  resolving them is pip's job, which .ci/run's install exercises."""
  subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w',
                  str(tmp_path / 'dist'), str(ROOT)], check=True, capture_output=True)
  wheel, = (tmp_path / 'dist').glob('resnet_jax-*.whl')
  top_level = {name.split('/')[0] for name in zipfile.ZipFile(wheel).namelist()}
  assert {name for name in top_level if not name.endswith('.dist-info')} == {'resnet_jax'}

  env = tmp_path / 'env'
  subprocess.run([sys.executable, '-m', 'venv', str(env)], check=True)
  python = env / 'bin' / 'python'
  site = subprocess.run([python, '-c', 'import site; print(site.getsitepackages()[0])'],
                        check=True, capture_output=True, text=True).stdout.strip()
  dependencies = subprocess.run([sys.executable, '-c', 'import jax, os; print(os.path.dirname('
                                 'os.path.dirname(jax.__file__)))'], check=True,
                                capture_output=True, text=True).stdout.strip()
  pathlib.Path(site, 'dependencies.pth').write_text(dependencies + '\n')
  subprocess.run([python, '-m', 'pip', 'install', '-q', '--no-deps', str(wheel)], check=True,
                 capture_output=True)

  outside = tmp_path / 'elsewhere'
  outside.mkdir()
  images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
  np.save(outside / 'images.npy', images)
  clean = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  user = subprocess.run([python, '-c', WHEEL_USER, str(run_dir), 'images.npy', 'out.npy'],
                        cwd=outside, env=clean, capture_output=True, text=True)
  assert user.returncode == 0, user.stderr
  assert 'no configs package' in user.stdout
  np.testing.assert_allclose(np.load(outside / 'out.npy'),
                             resnet_jax.load(str(run_dir)).predict(images), rtol=1e-6, atol=1e-7)

  command = subprocess.run([env / 'bin' / 'resnet-jax', f'--workdir={run_dir}', '--mode=predict',
                            '--inputs=images.npy', '--output=predictions.csv'],
                           cwd=outside, env=clean, capture_output=True, text=True)
  assert command.returncode == 0, command.stderr
  assert (outside / 'predictions.csv').read_text().count('\n') == 1 + len(images)
