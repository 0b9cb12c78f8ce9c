"""`python -m resnet_jax ...`: the command line (`cli`), as launch.py and `resnet-jax`."""

from resnet_jax import cli

if __name__ == '__main__':
  cli.main()
