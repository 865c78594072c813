"""Drop-in replacements for the recall code that VPR codebases copy.

* :mod:`vprmetrics.compat.gsv_cities`: ``get_validation_recalls`` of gsv-cities, MixVPR,
  SALAD, BoQ and their forks (``{k: recall}`` as fractions).
* :mod:`vprmetrics.compat.vg_benchmark`: the recall step of the Deep Visual
  Geo-localization Benchmark's ``test()`` (``recalls, recalls_str`` in percent), and
  :func:`~vprmetrics.compat.vg_benchmark.read_utm` for UTM coordinates from VG file names.

Both keep the original signature and return value, compute the exact value with the
vprmetrics engine, and say in one warning line when ties (or the float16 GPU index of
the original) would have changed a number. See ``docs/compat.md``.
"""
