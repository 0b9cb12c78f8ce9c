"""resnet_jax: design and train CIFAR-10 ResNets under a parameter budget, in pure JAX."""
