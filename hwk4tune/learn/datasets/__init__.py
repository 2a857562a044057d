"""Data-set files on disk: where they are searched, how they are checked, read and fetched.

Torch-free: ``hwk4tune data list`` and ``hwk4tune data fetch`` need neither torch nor Ray. The loaders in
:mod:`hwk4tune.learn.data` turn what these modules read (numpy arrays) into normalized tensors.

- :mod:`.roots`: the folders searched, in order (``data_dir``, ``$HWK4TUNE_DATA``, the cache).
- :mod:`.safe_pickle`: hash checks and an unpickler that only builds numpy arrays and plain containers.
- :mod:`.mnist_pkl`: the classic ``mnist.pkl.gz`` (50k / 10k / 10k) and its fetch from a PyPI wheel.
- :mod:`.cifar`: CIFAR-10's ``cifar-10-batches-py/`` pickle batches.
- :mod:`.catalog`: which data sets are present on this machine, and where from.
"""
