"""The device pipeline's batches are a pure function of (seed, epoch, position): the same again,
on resume, and on any number of devices; its alternating flip and TTA views. (Its crop, flip and
cutout are tested beside the host pipeline's, in test_augmentations.py.)"""

import jax
import ml_collections
import numpy as np

from resnet_jax import data_order, defaults, device_data

KEYS = [jax.random.key(i) for i in range(40)]


def augment_config(**kwargs):
  return ml_collections.ConfigDict(defaults.get_config().augment.to_dict() | kwargs)


def test_train_batches_are_a_function_of_seed_epoch_and_position():
  rng = np.random.default_rng(0)
  dataset = {'image': rng.integers(0, 256, (40, 32, 32, 3)).astype(np.uint8),
             'label': np.arange(40, dtype=np.int32)}
  config = augment_config(cutout=4)
  order = data_order.epoch_order(seed=3, epoch=1, num_images=40)
  assert sorted(order) == list(range(40))
  assert not np.array_equal(order, data_order.epoch_order(3, 2, 40))
  assert not np.array_equal(order, data_order.epoch_order(4, 1, 40))
  indices = data_order.epoch_batches(seed=3, epoch=1, num_images=40, batch_size=8)[1:3]
  np.testing.assert_array_equal(indices.ravel(), order[8:24])

  def batch(step, seed=3, rows=indices[0]):
    out = device_data.train_batch(dataset, rows, seed=seed, step=step, steps_per_epoch=5,
                                  augment_config=config)
    return jax.tree.map(np.asarray, out)

  first = batch(6)  # Epoch 1, position 1.
  np.testing.assert_array_equal(first['label'], indices[0])
  assert first['image'].shape == (8, 32, 32, 3)
  jax.tree.map(np.testing.assert_array_equal, first, batch(6))  # Pure: the same again.
  assert not np.array_equal(first['image'], batch(7)['image'])  # Another position.
  assert not np.array_equal(first['image'], batch(11)['image'])  # Another epoch.
  assert not np.array_equal(first['image'], batch(6, seed=4)['image'])
  # Each image's draw depends on its position in the batch, not on the rest of the batch.
  half = batch(6, rows=np.concatenate([indices[0][:4], indices[1][:4]]))
  np.testing.assert_array_equal(half['image'][:4], first['image'][:4])


def test_eval_indices_cover_every_image_once():
  indices, mask = device_data.eval_indices(21, batch_size=8)
  assert indices.shape == mask.shape == (3, 8)
  assert mask.sum() == 21 and mask.ravel()[:21].all()
  np.testing.assert_array_equal(indices.ravel()[:21], np.arange(21))


def test_alternating_flip_mirrors_each_image_every_other_epoch():
  indices = np.arange(64, dtype=np.int32)
  mirrors = np.stack([np.asarray(device_data.alternating_mirror(0, indices, epoch))
                      for epoch in range(4)])
  assert 10 < mirrors[0].sum() < 54  # A seeded random start per image.
  np.testing.assert_array_equal(mirrors[1], ~mirrors[0])
  np.testing.assert_array_equal(mirrors[2], mirrors[0])
  np.testing.assert_array_equal(mirrors[3], ~mirrors[0])
  assert not np.array_equal(mirrors[0], np.asarray(device_data.alternating_mirror(1, indices, 0)))
  # In a batch, the image is mirrored exactly when its mirror flag says so.
  image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
  config = augment_config(crop_padding=0, alternating_flip=True)
  for mirror in (False, True):
    out = np.asarray(device_data.augment_image(KEYS[0], image, config, np.bool_(mirror)))
    expected = device_data.augment_image(KEYS[0], image[:, ::-1] if mirror else image,
                                         augment_config(crop_padding=0, flip=False))
    np.testing.assert_allclose(out, np.asarray(expected), atol=1e-5)


def test_tta_views_are_the_image_its_mirror_and_their_translations():
  images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
  views = [np.asarray(v) for v in device_data.tta_views(images, flip=True, shift=1)]
  assert len(views) == 6
  np.testing.assert_array_equal(views[0], images)
  np.testing.assert_array_equal(views[1], images[:, :, ::-1])
  padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='reflect')
  np.testing.assert_array_equal(views[2], padded[:, :32, :32])  # Content moves down-right.
  np.testing.assert_array_equal(views[3], padded[:, 2:, 2:])  # Content moves up-left.
  for flip, shift in ((False, 0), (True, 0), (False, 2), (True, 2)):
    assert (len(device_data.tta_views(images, flip=flip, shift=shift))
            == device_data.num_tta_views(flip=flip, shift=shift))
  assert device_data.num_tta_views(flip=False, shift=0) == 1
