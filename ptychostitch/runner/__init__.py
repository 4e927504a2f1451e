"""The runner: train (or load) a patch model, predict the test patches, stitch and score them.

Model and training parts (``docs/model.md``):

- :mod:`ptychostitch.runner.physics`: the grid-lines forward model in torch and the losses;
- :mod:`ptychostitch.runner.model`: the reference model (Patterson encoder, whitened, with a
  convolutional decoder);
- :mod:`ptychostitch.runner.user_model`: ``--model reference|module:factory`` and the contract a
  user's model follows;
- :mod:`ptychostitch.runner.outputs`: checks on what a model returns;
- :mod:`ptychostitch.runner.train`: the training loop;
- :mod:`ptychostitch.runner.predict`: batched prediction as a stream of patch batches;
- :mod:`ptychostitch.runner.twin`: resolving the twin-image ambiguity from scan overlaps;
- :mod:`ptychostitch.runner.checkpoint`: saving and loading weights;
- :mod:`ptychostitch.runner.defaults`: the embedded default run's dataset and stitch options.
"""
