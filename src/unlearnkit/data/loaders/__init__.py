"""Built-in dataset loaders; importing this package registers them."""

from unlearnkit.data.loaders import cifar, digits, idx, npz, svhn  # noqa: F401
