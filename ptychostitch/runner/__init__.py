"""The runner: the orchestration of ``run``, ``evaluate``, ``score`` and ``compare``, from files to a result folder.

- :mod:`~ptychostitch.runner.run`: ``run``, the whole pipeline (simulate or load, train or load a
  model, predict, stitch, score, write);
- :mod:`~ptychostitch.runner.evaluate`: ``evaluate``, predictions made elsewhere, stitched and scored;
- :mod:`~ptychostitch.runner.score`: ``score``, an object stitched elsewhere, scored;
- :mod:`~ptychostitch.runner.compare`: ``compare``, result folders side by side against one ground truth;
- :mod:`~ptychostitch.runner.provenance`: the provenance record every result folder holds;
- :mod:`~ptychostitch.runner.defaults`: the configurations of both commands and the embedded default run;
- :mod:`~ptychostitch.runner.context`: where data meets stitchers (the stitch context, the selection);
- :mod:`~ptychostitch.runner.scoring`: the tail shared by both, patch stream -> stitcher -> metrics;
- :mod:`~ptychostitch.runner.artifacts` and :mod:`~ptychostitch.runner.figures`: the files and PNGs.
"""
