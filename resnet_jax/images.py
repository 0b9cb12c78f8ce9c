"""A user's images (files, folders, .npy arrays) as the uint8 32x32 RGB arrays a model takes.

Each picture is brought to 32x32 RGB as torchvision's usual evaluation transform would
(`Resize(32)` then `CenterCrop(32)` after its loader's `convert('RGB')`): Pillow converts it to
RGB (grey, palette and alpha images alike; transparency is dropped), resizes it so that its
shorter side is 32 pixels (bilinear, antialiased), and keeps the central 32x32 square. A 32x32
RGB picture is unchanged. Everything is decoded and checked before anything is predicted or
written, so a bad input fails alone, naming its file.
"""

import os

import numpy as np
from PIL import Image

from resnet_jax import cifar10
from resnet_jax.errors import InputError

# A folder's files with these endings are read as pictures; others (notes, .npy) are skipped.
EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp', '.tif', '.tiff')


def to_model_input(picture: Image.Image) -> np.ndarray:
  """A Pillow picture as uint8 (32, 32, 3): RGB, shorter side resized to 32, centre cropped."""
  size = cifar10.IMAGE_SHAPE[0]
  picture = picture.convert('RGB')
  width, height = picture.size
  short, long = sorted((width, height))
  resized = (size, int(size * long / short))  # torchvision's rounding, for the same pixels.
  resized = resized if width <= height else resized[::-1]
  if resized != picture.size:
    picture = picture.resize(resized, Image.Resampling.BILINEAR)
  left, top = (int(round((side - size) / 2)) for side in resized)
  return np.asarray(picture.crop((left, top, left + size, top + size)), np.uint8)


def read_picture(path: str) -> np.ndarray:
  """The picture in file `path` as uint8 (32, 32, 3); a InputError if it is not a whole one."""
  try:
    with Image.open(path) as picture:
      picture.load()  # Decodes it all: a truncated file fails here, not later.
      return to_model_input(picture)
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise InputError(f'{path} is not a readable image ({type(e).__name__}: '
                      f'{str(e).splitlines()[0] if str(e) else "no details"})') from None


def read_array(path: str) -> np.ndarray:
  """The uint8 (N, 32, 32, 3) images of a .npy file."""
  try:
    images = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise InputError(f'{path} is not a readable .npy array ({type(e).__name__}: '
                      f'{str(e).splitlines()[0] if str(e) else "no details"})') from None
  expected = (cifar10.IMAGE_SHAPE, 'N, ' + ', '.join(map(str, cifar10.IMAGE_SHAPE)))
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != expected[0]:
    raise InputError(f'{path} holds {images.dtype} of shape {images.shape}; expected uint8 '
                      f'images of shape ({expected[1]}), RGB pixels 0..255')
  if not len(images):
    raise InputError(f'{path} holds no images (shape {images.shape})')
  return images


def folder_pictures(folder: str) -> list[str]:
  """The picture files under `folder` (subfolders too), in sorted order."""
  found = []
  for parent, subdirs, files in os.walk(folder):
    subdirs.sort()
    found += [os.path.join(parent, name) for name in sorted(files)
              if name.lower().endswith(EXTENSIONS)]
  if not found:
    raise InputError(f'{folder} holds no images (files ending in {", ".join(EXTENSIONS)})')
  return found


def read(paths: list[str]) -> tuple[np.ndarray, list[str]]:
  """The images of `paths` (picture files, folders of them, .npy arrays): (uint8 (N, 32, 32, 3),
  a name for each: its file, or `file.npy[i]`)."""
  if not paths:
    raise InputError('no inputs; give image files, folders of images or .npy arrays')
  images, names = [], []
  for path in paths:
    if not os.path.exists(path):
      raise InputError(f'{path} does not exist')
    if os.path.isdir(path):
      files = folder_pictures(path)
      images += [read_picture(f)[None] for f in files]
      names += files
    elif path.lower().endswith('.npy'):
      array = read_array(path)
      images.append(array)
      names += [f'{path}[{i}]' for i in range(len(array))]
    else:
      images.append(read_picture(path)[None])
      names.append(path)
  return np.concatenate(images), names
