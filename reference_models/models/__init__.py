"""Reference models: backbones, aggregators, the model families and their registry.

* :mod:`~reference_models.models.registry`: names -> :class:`ModelSpec` (torch-free);
  ``build_model(name)`` builds one;
* :mod:`~reference_models.models.backbones`, :mod:`~reference_models.models.aggregators`:
  the building blocks;
* the families :mod:`~reference_models.models.geolocalization` (backbone + aggregation) and
  :mod:`~reference_models.models.siamese`; a cross-view family (CVM-Net) goes beside them;
* :mod:`~reference_models.models.accounting`: parameters, size and FLOPs (``describe``);
* :mod:`~reference_models.models.weights`: reading local weight files safely.
* :mod:`~reference_models.models.embedder`: the ``embed`` interface, for the type checker.
"""
