"""Reference models (torch) whose descriptors vprmetrics scores. Needs the ``models`` extra.

* :mod:`reference_models.models`: backbones, aggregators, the model families and their
  registry, parameter and FLOP accounting;
* :mod:`reference_models.training`: configuration, samplers, losses and the training loop;
* :mod:`reference_models.inference`: describing images, scoring a split;
* :mod:`reference_models.export`: a trained run -> submission ``.npz`` and TorchScript;
* :mod:`reference_models.cli`: ``python -m reference_models describe|train|export``;
* :mod:`reference_models.demo`: ``python -m reference_models.demo`` (``make demo``);
* :mod:`reference_models.synthtown`: the embedded synthetic town (numpy and scipy only).

Importing this package, :mod:`reference_models.cli`, the registry or the training
configuration does not import torch.
"""
