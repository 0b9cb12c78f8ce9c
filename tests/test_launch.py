"""The command line: summaries, benchmarks, overrides, one-line refusals of a user's mistakes."""

import concurrent.futures
import json
import os
import pickle

import jax
import pytest
from clu import metric_writers

from resnet_jax import cpu_tuning, defaults, run_config, train
from resnet_jax.errors import ConfigError
from tests.conftest import command_line_config, launch, write_cifar_python


def test_tests_run_on_the_cpu_unless_asked_otherwise():
  if os.environ.get('RESNET_JAX_TEST_GPU') == '1':
    pytest.skip('RESNET_JAX_TEST_GPU=1: the tests may use an accelerator')
  assert os.environ['JAX_PLATFORMS'] == 'cpu'  # Set by conftest; launch.py subprocesses inherit.
  assert jax.default_backend() == 'cpu'


@pytest.mark.slow
def test_summary_counts_parameters_after_overrides():
  proc = launch('--config', 'configs/resnet24.py', '--mode=summary',
                '--config.model.blocks=2,2,2,2', '--config.model.channels=32,64,128,256')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'Trainable parameters: 2,797,610' in proc.stdout
  assert 'layer4_block2' in proc.stdout


@pytest.mark.slow
def test_summary_is_a_stable_compact_table_without_tensorflow():
  runs = [launch('-X', 'importtime', 'launch.py', '--config', 'configs/resnet24.py',
                 '--mode=summary', script=None) for _ in range(2)]
  for proc in runs:
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = [line.split('|')[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith('import time:')]
    assert 'jax' in imported and not [m for m in imported if m.split('.')[0] == 'tensorflow']
  assert runs[0].stdout == runs[1].stdout  # Stable from run to run.
  lines = runs[0].stdout.splitlines()
  assert lines[0].split() == ['layer', 'output', 'shape', 'parameters']
  assert lines[1].split() == ['stem_conv', '32x32x64', '1,728']
  assert lines[-2].split() == ['head', '10', '2,570']
  assert lines[-1] == 'Trainable parameters: 4,918,602'
  assert len(lines) == 16 and max(len(line) for line in lines) < 80
  assert proc.stderr.count('\n') == len(imported)  # Nothing but the import times: no noise.


@pytest.mark.slow
def test_a_config_file_without_get_config_is_a_one_line_error():
  proc = launch('--config', 'configs/__init__.py', '--mode=summary')
  assert proc.returncode == 2 and proc.stderr.splitlines() == [
      'error: configs/__init__.py has no get_config(); --config takes a config file such as '
      'configs/resnet24.py']


@pytest.mark.slow
def test_summary_of_an_over_budget_design_says_so():
  proc = launch('--config', 'configs/search.py', '--mode=summary')  # ResNet-18, scaled down.
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.splitlines()[-1] == ('Trainable parameters: 11,173,962, over the budget of '
                                          '5,000,000 (config.model.max_params): training '
                                          'refuses it')


@pytest.mark.slow
def test_workdir_config_serves_when_config_is_absent(tmp_path):
  proc = launch('--workdir', str(tmp_path / 'none'), '--mode=eval')
  assert proc.returncode == 2 and proc.stderr.splitlines() == [
      'error: --config is required, e.g. --config configs/resnet24.py (no config.json in '
      f'--workdir={tmp_path / "none"} to take it from)']
  assert not (tmp_path / 'none').exists()
  config = defaults.get_config()
  config.model.blocks, config.model.channels = (2, 2, 2, 2), (32, 64, 128, 256)
  run_config.save(config, str(tmp_path))
  proc = launch('--workdir', str(tmp_path), '--mode=summary')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.splitlines()[-1] == 'Trainable parameters: 2,797,610'
  proc = launch('--workdir', str(tmp_path), '--mode=summary', '--config', 'configs/resnet24.py')
  assert proc.stdout.splitlines()[-1] == 'Trainable parameters: 4,918,602'  # --config wins.


@pytest.mark.slow
def test_benchmark_prints_a_table_and_writes_json_with_cpu_flags(tmp_path):
  environ = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}  # As a user runs it.
  proc = launch('--config', 'configs/resnet24.py', '--mode=benchmark', f'--workdir={tmp_path}',
                '--config.model.blocks=1,1', '--config.model.channels=4,8',
                '--config.batch_size=8', '--config.eval_batch_size=8',
                '--config.benchmark.warmup_steps=1', '--config.benchmark.steps=2',
                '--config.benchmark.pipeline_batches=2', '--config.benchmark.loop_steps=6',
                '--config.benchmark.dataset_size=64', '--config.steps_per_dispatch=4',
                environ=environ)
  assert proc.returncode == 0, proc.stderr[-2000:]
  for row in ('train step compile', 'train step alone', 'training end to end', 'eval images/s',
              'host input pipeline', 'GFLOP per trained image'):
    assert f'| {row}' in proc.stdout
  results = json.loads((tmp_path / 'benchmark.json').read_text())
  assert results['backend'] == 'cpu' and results['relu'] == 'select'
  assert results['pipeline'] == 'device' and results['steps_per_dispatch'] == 4
  assert results['xla_flags'] == ' '.join(cpu_tuning.CPU_FLAGS)  # Set by the launcher.
  for key in ('train_step_compile_s', 'train_step_images_per_sec', 'train_images_per_sec',
              'eval_images_per_sec', 'input_pipeline_images_per_sec', 'train_tflops'):
    assert results[key] > 0
  # XLA's count for the tiny design: a forward and backward pass, so above the forward alone.
  assert 1e6 < results['flops_per_image'] < 1e8


def bad_data_folders(root):
  """Local copies that are wrong in one way each."""
  (root / 'empty').mkdir(parents=True)
  (root / 'wrong_layout' / 'images').mkdir(parents=True)
  for name in ('wrong_classes', 'bad_image'):
    for split in ('train', 'test'):
      classes = ['cats', 'dogs'] if name == 'wrong_classes' else [
          'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
          'truck']
      for c in classes:
        (root / name / split / c).mkdir(parents=True)
        (root / name / split / c / '0.png').write_bytes(b'not a png at all')
  bad_labels = write_cifar_python(root / 'bad_labels', num_train=10, num_test=10)
  with open(bad_labels / 'test_batch', 'rb') as f:
    batch = pickle.load(f)
  batch[b'labels'][3] = 12
  with open(bad_labels / 'test_batch', 'wb') as f:
    pickle.dump(batch, f)
  truncated = write_cifar_python(root / 'truncated', num_train=10, num_test=10)
  os.truncate(truncated / 'test_batch', 100)
  return root


BAD_INPUTS = {
    'over budget': (['--config.model.blocks=2,2,2,2', '--config.model.channels=64,128,256,512'],
                    ['11,173,962', '5,000,000']),
    'unknown key': (['--config.model.channls=64,128,256'], ['channls', 'channels']),
    'not an int': (['--config.batch_size=big'], ['batch_size', 'big']),
    'not a float': (['--config.optimizer.learning_rate=fast'], ['learning_rate', 'fast']),
    'lengths differ': (['--config.model.channels=64,128'],
                       ['config.model.channels=(64, 128)', 'one per residual layer, 3']),
    'negative blocks': (['--config.model.blocks=3,-1,3'],
                        ['config.model.blocks=(3, -1, 3)', 'positive integers']),
    'zero kernel': (['--config.model.conv_kernel=0'], ['config.model.conv_kernel=0']),
    'pool too big': (['--config.model.pool=64'], ['config.model.pool=64', 'from 1 to 8']),
    'zero batch': (['--config.batch_size=0'], ['config.batch_size=0', '> 0']),
    'unknown optimizer': (['--config.optimizer.name=rmsprop'], ['rmsprop', 'sgd, adam, adamw']),
    'unknown nonfinite policy': (['--config.nonfinite_loss=ignore'], ['ignore', 'stop, skip']),
    'label smoothing': (['--config.label_smoothing=1.5'], ['config.label_smoothing=1.5']),
    'keep no checkpoints': (['--config.keep_checkpoints=0'], ['config.keep_checkpoints=0']),
    'missing data folder': (['--config.data.dir=/no/such/folder'],
                            ['/no/such/folder', 'is not a folder']),
    'empty data folder': (['--config.data.dir={data}/empty'], ['holds neither layout']),
    'wrong layout': (['--config.data.dir={data}/wrong_layout'], ['holds neither layout']),
    'wrong classes': (['--config.data.dir={data}/wrong_classes'],
                      ["class folders ['cats', 'dogs']", 'ten CIFAR-10 classes']),
    'unreadable images': (['--config.data.dir={data}/bad_image'], ['could not read the images']),
    'labels out of range': (['--config.data.dir={data}/bad_labels'],
                            ['labels range over [', ', 12]; expected 0..9']),
    'truncated batch': (['--config.data.dir={data}/truncated'],
                        ['test_batch is not a CIFAR-10 python batch']),
    'eval without checkpoint': (['--mode=eval'], ['no checkpoint in']),
    'unknown mode': (['--mode=fly'], ['--mode', 'fly']),
    'missing config file': (['--config=configs/nope.py'], ['configs/nope.py', 'No such file']),
    'plot without metrics': (['--mode=plot'], ['no training metrics']),
}


# What parse_flags refuses before main() starts; and a refusal from each other stage of main():
# validation, the data, and the eval and plot modes. Each of them through launch.py: exit status
# 2 and one line. Every refusal of a train command is also checked in this process, below.
PARSED_AWAY = ('unknown key', 'not an int', 'not a float', 'unknown mode', 'missing config file')
OTHER_MODES = ('eval without checkpoint', 'plot without metrics')
LAUNCHED = PARSED_AWAY + OTHER_MODES + ('over budget', 'missing data folder')


@pytest.fixture(scope='module')
def bad_data(tmp_path_factory):
  return bad_data_folders(tmp_path_factory.mktemp('bad_data'))


@pytest.fixture(scope='module')
def refusals(tmp_path_factory, bad_data):
  """Each bad input of LAUNCHED, run through launch.py (two at a time), with its workdir."""
  root = tmp_path_factory.mktemp('bad_inputs')

  def attempt(name):
    args, _ = BAD_INPUTS[name]
    workdir = root / 'workdirs' / name.replace(' ', '_')
    proc = launch('--config', 'configs/resnet24.py', f'--workdir={workdir}',
                  *[a.format(data=bad_data) for a in args])
    return proc, workdir

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    return dict(zip(LAUNCHED, pool.map(attempt, LAUNCHED)))


@pytest.mark.slow
@pytest.mark.parametrize('name', LAUNCHED)
def test_bad_input_is_a_one_line_error_and_touches_nothing(refusals, name):
  proc, workdir = refusals[name]
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith('error: ')]
  assert len(errors) == 1, proc.stderr[-2000:]
  for fragment in BAD_INPUTS[name][1]:
    assert fragment in errors[0]
  assert not workdir.exists()


@pytest.mark.parametrize('name', [n for n in BAD_INPUTS if n not in PARSED_AWAY + OTHER_MODES])
def test_bad_train_input_is_refused_in_one_line_before_touching_the_workdir(
    bad_data, tmp_path, capfd, name):
  """What `launch.py --config configs/resnet24.py --workdir=... <args>` runs, in this process:
  a ConfigError of one line (launch.py prints it as `error: ...`, exit status 2, as the launched
  cases show), raised before the workdir exists."""
  args, fragments = BAD_INPUTS[name]
  parsed = command_line_config(*[a.format(data=bad_data) for a in args],
                               config='configs/resnet24.py')
  workdir = tmp_path / 'workdir'
  with pytest.raises(ConfigError) as refused:
    train.train_and_evaluate(parsed.config, str(workdir))
  message = str(refused.value)
  assert '\n' not in message and 'Traceback' not in capfd.readouterr().err
  for fragment in fragments:
    assert fragment in message
  assert not workdir.exists()


@pytest.mark.slow
def test_presets_and_plot_mode(tmp_path):
  proc = launch('--config', 'configs/resnet24.py:mixpu', '--mode=summary')
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr
  assert 'unknown variant; expected one of mixup' in proc.stderr
  writer = metric_writers.create_default_writer(str(tmp_path), asynchronous=False)
  writer.write_scalars(1, {'train_loss': 2.0, 'train_learning_rate': 0.1})
  writer.close()
  proc = launch('--workdir', str(tmp_path), '--mode=plot')  # Needs no --config.
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert sorted(os.listdir(tmp_path))[:2] == ['curves_learning_rate.png', 'curves_loss.png']
