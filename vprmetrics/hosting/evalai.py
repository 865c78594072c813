"""EvalAI's evaluation-script entry point.

An EvalAI challenge calls ``evaluate(test_annotation_file, user_submission_file,
phase_codename, **kwargs)`` from its ``evaluation_script`` package; re-export this one::

    # evaluation_script/__init__.py of the challenge
    from vprmetrics.hosting.evalai import evaluate

``test_annotation_file`` is a ``GT.npz`` (it names its protocol), ``user_submission_file``
a submission ``.npz``. The result is EvalAI's shape: ``{"result": [{split: {metric:
value}}], "submission_result": {metric: value}}`` with metrics ``R@1``, ``R@5``, ...,
``R@1%``, ``PSSR``, ``mAP@k`` (percent; PSSR as a fraction). ``split`` is
``kwargs["split"]`` or, by default, the protocol's name. A bad submission raises
:class:`~vprmetrics.errors.ProtocolError` (or another ``ValueError``) whose message is
the one-line reason, which EvalAI shows to the participant.
"""

from __future__ import annotations

from typing import Any

from vprmetrics.hosting.common import flat_metrics, protocol_of, score_files

__all__ = ["evaluate"]


def evaluate(
    test_annotation_file: str,
    user_submission_file: str,
    phase_codename: str,
    **kwargs: Any,
) -> dict[str, Any]:
    """Score ``user_submission_file`` against ``test_annotation_file`` for EvalAI.

    ``kwargs`` may carry ``protocol`` (a name or ``.toml``, overriding the one in the
    ground-truth file), ``split`` (the result's split name) and ``settings`` (``ties``,
    ``metric``, ...); EvalAI's own keyword arguments (``submission_metadata``) are ignored.
    """
    protocol = protocol_of(test_annotation_file, kwargs.get("protocol"))
    report = score_files(
        test_annotation_file, [user_submission_file], protocol, kwargs.get("settings")
    )
    metrics = flat_metrics(report)
    split = kwargs.get("split") or protocol.name
    return {
        "result": [{split: metrics}],
        "submission_result": metrics,
        "submission_metadata": {"phase": phase_codename, "protocol": report["protocol"]},
    }
