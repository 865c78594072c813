"""Scoring programs for benchmark hosts: EvalAI (:mod:`.evalai`) and Codabench /
CodaLab (:mod:`.codabench`). Both score one submission against a ground-truth file
(``GT.npz``, see :func:`vprmetrics.data.loaders.save_ground_truth_npz`) through the
leaderboard's scoring path, so a hosted number equals ``vprmetrics evaluate``'s."""
