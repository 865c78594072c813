"""Training of the reference models (importing the package does not import torch).

* :mod:`~reference_models.training.config`: :class:`TrainConfig`, the presets and the names
  each option accepts (torch-free: the command line uses them directly);
* :mod:`~reference_models.training.loop`: :func:`train`, one run with validation, early
  stopping and resumable checkpoints;
* one sampler per strategy: :mod:`~reference_models.training.triplets` (the benchmark's
  mined tuples), :mod:`~reference_models.training.places` (in-batch place batches),
  :mod:`~reference_models.training.pairs` (Siamese pairs);
* :mod:`~reference_models.training.losses`, :mod:`~reference_models.training.optim`,
  :mod:`~reference_models.training.augment`, :mod:`~reference_models.training.model_setup`,
  :mod:`~reference_models.training.splits`, :mod:`~reference_models.training.checkpoints`.
"""
