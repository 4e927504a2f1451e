"""Models: the physics, the built-in model, training and prediction (``docs/model.md``).

The second stage of the data flow: diffraction from :mod:`ptychostitch.data` in, a stream of
:class:`~ptychostitch.patch_stream.PatchBatch` es out.

- :mod:`~ptychostitch.model.physics`: the grid-lines forward model in torch and the losses;
- :mod:`~ptychostitch.model.reference`: the reference model (Patterson encoder, whitened, with a
  convolutional decoder);
- :mod:`~ptychostitch.model.factory`: ``--model reference|module:factory`` and the contract a
  user's model follows;
- :mod:`~ptychostitch.model.outputs`: checks on what a model returns;
- :mod:`~ptychostitch.model.train`: the training loop;
- :mod:`~ptychostitch.model.predict`: batched prediction as a stream of patch batches;
- :mod:`~ptychostitch.model.twin`: resolving the twin-image ambiguity from scan overlaps;
- :mod:`~ptychostitch.model.checkpoint`: saving and loading weights.
"""
