"""Trains, evaluates, summarizes or searches CIFAR-10 ResNets described by a config: the command
line of `resnet_jax.cli`, from a checkout (installed, the same is `resnet-jax` or
`python -m resnet_jax`).

  python launch.py --config configs/resnet24.py --workdir runs/resnet24
  python launch.py --workdir runs/resnet24 --mode=eval
  python launch.py --helpfull
"""

from resnet_jax import cli

if __name__ == '__main__':
  cli.main()
