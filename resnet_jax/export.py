"""A trained model as files that any JAX installation runs, without this project.

`model.jax` is the serialized `jax.export` of uint8 images (N, 32, 32, 3), any N, to class
probabilities (N, 10): normalization, the run's test-time views and the weights are inside it.
`model.json` beside it names the classes, the input it expects and what running it needs
(`REQUIRES`: JAX, and flatbuffers, which `jax.export` needs to deserialize but does not install).
Load them with JAX alone::

  import json
  from jax import export
  with open('runs/resnet24/export/model.jax', 'rb') as f:
    exported = export.deserialize(f.read())
  class_names = json.load(open('runs/resnet24/export/model.json'))['class_names']
  probabilities = exported.call(images)
"""

import json
import os

import jax
import numpy as np

from resnet_jax import atomic_files, cifar10

# Where the export runs. Lowering for CUDA needs no GPU (nor CUDA's jaxlib plugin).
PLATFORMS = ('cpu', 'cuda')
DIRECTORY = 'export'  # Inside the workdir, by default.
MODEL, DESCRIPTION = 'model.jax', 'model.json'  # The two files, in that folder.
REQUIRES = 'pip install jax flatbuffers'  # All a Python needs to run an export.


def write(model, directory: str | None = None) -> str:
  """Exports `model` (a `trained.TrainedModel`) to `directory` (default `<workdir>/export`);
  returns the path of model.jax. Both files are replaced atomically."""
  directory = directory or os.path.join(model.workdir, DIRECTORY)
  variables = model.variables

  def probabilities(images):  # The weights are closed over: constants of the export.
    return model.probabilities(variables, images)

  batch, = jax.export.symbolic_shape('batch')
  exported = jax.export.export(jax.jit(probabilities), platforms=PLATFORMS)(
      jax.ShapeDtypeStruct((batch, *cifar10.IMAGE_SHAPE), np.uint8))
  description = {
      'class_names': list(model.class_names),
      'input': {'dtype': 'uint8', 'shape': ['N', *cifar10.IMAGE_SHAPE], 'layout': 'NHWC, RGB',
                'pixels': '0..255, not normalized (normalization is inside the model)'},
      'output': 'float32 (N, 10) class probabilities, in the order of class_names',
      'test_time_views': {'flip': bool(model.config.tta_flip),
                          'shift': int(model.config.tta_shift)},
      'platforms': list(exported.platforms),
      'requires': REQUIRES,
      'workdir': model.workdir, 'step': model.step, 'checkpoint': model.checkpoint,
  }
  os.makedirs(directory, exist_ok=True)
  paths = [os.path.join(directory, name) for name in (MODEL, DESCRIPTION)]
  atomic_files.write(paths[0], bytes(exported.serialize()))
  atomic_files.write(paths[1], json.dumps(description, indent=2) + '\n')
  return paths[0]

