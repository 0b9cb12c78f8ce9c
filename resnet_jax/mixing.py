"""Mixup and CutMix of a batch, on device inside the train step.

Each pairs every image with another of the same batch (a random permutation `perm`) and draws
one lam ~ Beta(alpha, alpha) per batch, as both papers do. They return (images, perm, weight):
the targets to learn are then `mix_targets(targets, perm, weight)`.
"""

import functools

import jax
import jax.numpy as jnp


def mix_targets(targets, perm, weight):
  """weight * targets + (1 - weight) * the partners' targets: the loss on mixed labels."""
  return weight * targets + (1 - weight) * targets[perm]


def mixup(key, images, alpha: float):
  """Zhang et al., 2018: lam * x + (1 - lam) * x[perm]; weight lam."""
  lam_key, perm_key = jax.random.split(key)
  lam = jax.random.beta(lam_key, alpha, alpha)
  perm = jax.random.permutation(perm_key, images.shape[0])
  return lam * images + (1 - lam) * images[perm], perm, lam


def cutmix(key, images, alpha: float):
  """Yun et al., 2019: pastes a box of x[perm] covering about 1 - lam of each image.

  The box is centred uniformly and clipped at the borders (the paper's `rand_bbox`), so the
  weight is 1 - the area actually pasted.
  """
  lam_key, perm_key, y_key, x_key = jax.random.split(key, 4)
  lam = jax.random.beta(lam_key, alpha, alpha)
  perm = jax.random.permutation(perm_key, images.shape[0])
  height, width = images.shape[1:3]
  side = jnp.sqrt(1 - lam)
  half_h = (height * side).astype(jnp.int32) // 2
  half_w = (width * side).astype(jnp.int32) // 2
  cy = jax.random.randint(y_key, (), 0, height)
  cx = jax.random.randint(x_key, (), 0, width)
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  box = ((rows >= cy - half_h) & (rows < cy + half_h) & (cols >= cx - half_w)
         & (cols < cx + half_w))
  return jnp.where(box[None, :, :, None], images[perm], images), perm, 1 - box.mean()


def mix(key, images, *, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0):
  """Mixup, CutMix, or (both on) one of them with equal probability per batch; alpha 0 = off.

  With both off the batch is returned as it is, with weight 1.
  """
  if mixup_alpha and cutmix_alpha:
    choice_key, key = jax.random.split(key)
    return jax.lax.cond(jax.random.bernoulli(choice_key),
                        functools.partial(cutmix, alpha=cutmix_alpha),
                        functools.partial(mixup, alpha=mixup_alpha), key, images)
  if mixup_alpha:
    return mixup(key, images, mixup_alpha)
  if cutmix_alpha:
    return cutmix(key, images, cutmix_alpha)
  return images, jnp.arange(images.shape[0]), jnp.ones((), images.dtype)
