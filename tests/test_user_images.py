"""A user's images to model input (resnet_jax.images), --mode=predict's CSV and table, the API's
config loading and input checks: everything that needs no trained model."""

import csv
import os

import numpy as np
import pytest
from PIL import Image

from resnet_jax import images, predict, trained
from resnet_jax.errors import ConfigError, InputError


def picture(width, height, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_32x32_rgb_is_unchanged_and_other_modes_become_rgb():
  pixels = picture(32, 32)
  np.testing.assert_array_equal(images.to_model_input(Image.fromarray(pixels)), pixels)
  grey = images.to_model_input(Image.fromarray(pixels[..., 0]))
  assert grey.shape == (32, 32, 3) and np.array_equal(grey[..., 0], pixels[..., 0])
  assert np.array_equal(grey[..., 0], grey[..., 2])
  rgba = np.concatenate([pixels, np.full((32, 32, 1), 7, np.uint8)], -1)
  np.testing.assert_array_equal(images.to_model_input(Image.fromarray(rgba)), pixels)


@pytest.mark.parametrize('width,height,resized,box', [
    (64, 128, (32, 64), (0, 16, 32, 48)),   # Tall: shorter side 32, central rows.
    (100, 50, (64, 32), (16, 0, 48, 32)),   # Wide: central columns.
    (33, 70, (32, 67), (0, 18, 32, 50)),    # torchvision's int() and round() at the edges.
])
def test_other_sizes_resize_the_shorter_side_then_crop_the_centre(width, height, resized, box):
  source = Image.fromarray(picture(width, height))
  expected = np.asarray(source.resize(resized, Image.Resampling.BILINEAR).crop(box))
  np.testing.assert_array_equal(images.to_model_input(source), expected)


def test_read_takes_files_folders_and_arrays_in_order(tmp_path):
  (tmp_path / 'photos' / 'more').mkdir(parents=True)
  Image.fromarray(picture(32, 32, 1)).save(tmp_path / 'photos' / 'b.png')
  Image.fromarray(picture(40, 40, 2)).save(tmp_path / 'photos' / 'a.JPG')
  Image.fromarray(picture(32, 32, 3)).save(tmp_path / 'photos' / 'more' / 'c.png')
  (tmp_path / 'photos' / 'notes.txt').write_text('not a picture, and skipped')
  array = np.stack([picture(32, 32, 4), picture(32, 32, 5)])
  np.save(tmp_path / 'batch.npy', array)
  Image.fromarray(picture(32, 32, 6)).save(tmp_path / 'single.png')
  read, names = images.read([str(tmp_path / 'photos'), str(tmp_path / 'batch.npy'),
                             str(tmp_path / 'single.png')])
  photos = str(tmp_path / 'photos')
  assert names == [f'{photos}/a.JPG', f'{photos}/b.png', f'{photos}/more/c.png',
                   f'{tmp_path}/batch.npy[0]', f'{tmp_path}/batch.npy[1]',
                   f'{tmp_path}/single.png']
  assert read.shape == (6, 32, 32, 3) and read.dtype == np.uint8
  np.testing.assert_array_equal(read[1], picture(32, 32, 1))
  np.testing.assert_array_equal(read[3:5], array)


def bad_inputs(tmp_path):
  """(path, what the error must say) for each kind of bad input."""
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'text.png').write_text('not a picture')
  Image.fromarray(picture(64, 64)).save(tmp_path / 'whole.png')
  data = (tmp_path / 'whole.png').read_bytes()
  (tmp_path / 'truncated.png').write_bytes(data[:len(data) // 2])
  np.save(tmp_path / 'float.npy', np.zeros((2, 32, 32, 3), np.float32))
  np.save(tmp_path / 'shape.npy', np.zeros((2, 32, 32), np.uint8))
  np.save(tmp_path / 'none.npy', np.zeros((0, 32, 32, 3), np.uint8))
  (tmp_path / 'junk.npy').write_bytes(b'junk')
  return [('missing.png', 'does not exist'), ('empty', 'holds no images'),
          ('text.png', 'is not a readable image'), ('truncated.png', 'is not a readable image'),
          ('float.npy', 'holds float32 of shape (2, 32, 32, 3); expected uint8'),
          ('shape.npy', 'holds uint8 of shape (2, 32, 32)'), ('none.npy', 'holds no images'),
          ('junk.npy', 'is not a readable .npy array')]


def test_bad_inputs_are_named(tmp_path):
  for name, message in bad_inputs(tmp_path):
    with pytest.raises(InputError) as error:
      images.read([str(tmp_path / 'whole.png'), str(tmp_path / name)])
    assert str(error.value).startswith(str(tmp_path / name)) and message in str(error.value)
  with pytest.raises(InputError, match='no inputs'):
    images.read([])


def test_csv_rows_and_console_table(tmp_path):
  probabilities = np.array([[0.1, 0.6, 0.3] + [0] * 7, [0.05] * 8 + [0.3, 0.3]])
  names = ['a.png', 'b.npy[0]']
  rows = predict.rows(names, probabilities, trained.cifar10.CLASS_NAMES)
  assert rows[0] == {'input': 'a.png', 'class': 'automobile', 'probability': '0.6000',
                     'top_3': 'automobile 0.6000; bird 0.3000; airplane 0.1000'}
  assert rows[1]['class'] == 'ship'  # Ties go to the first class.
  path = tmp_path / 'out' / 'predictions.csv'
  predict.write_csv(str(path), rows)
  assert os.listdir(path.parent) == ['predictions.csv']  # No temporary file left.
  with open(path, newline='') as f:
    assert list(csv.DictReader(f)) == rows
  table = predict.console_table(rows * 6, shown=10)
  assert table.splitlines()[0].split() == ['input', 'class', 'probability']
  assert table.splitlines()[1].split() == ['a.png', 'automobile', '0.6000']
  assert table.splitlines()[-1] == '... and 2 more'


def test_predict_refuses_images_of_another_shape_or_dtype():
  with pytest.raises(InputError, match=r'float64 of shape \(2, 32, 32, 3\); expected uint8'):
    trained.check_images(np.zeros((2, 32, 32, 3)))
  with pytest.raises(InputError, match=r'uint8 of shape \(32, 32, 3\)'):
    trained.check_images(np.zeros((32, 32, 3), np.uint8))


def test_get_config_with_overrides():
  config = trained.get_config('configs/tiny.py', ['num_epochs=2', 'model.channels=8,16'])
  assert config.num_epochs == 2 and config.model.channels == (8, 16)
  config = trained.get_config('configs/tiny.py', {'num_epochs': 3, 'optimizer.name': 'adam'})
  assert config.num_epochs == 3 and config.optimizer.name == 'adam'
  assert config.batch_size == 8  # configs/tiny.py's own.
  for overrides in (['no_such_field=1'], {'no_such_field': 1}, ['num_epochs=many']):
    with pytest.raises(ConfigError):
      trained.get_config('configs/tiny.py', overrides)


def test_load_refuses_a_folder_without_a_run_or_checkpoint(tmp_path):
  with pytest.raises(ConfigError, match='holds no run'):
    trained.load(str(tmp_path))
  (tmp_path / 'config.json').write_text('{}')
  with pytest.raises(ConfigError, match='no checkpoint in .*checkpoints; train first'):
    trained.load(str(tmp_path))
  with pytest.raises(ConfigError, match="checkpoint='newest'"):
    trained.load(str(tmp_path), 'newest')
