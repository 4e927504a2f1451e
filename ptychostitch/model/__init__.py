"""The model stage: diffraction in, complex object patches out.

- :mod:`~ptychostitch.model.physics`: the grid-lines forward model in torch and the losses;
- :mod:`~ptychostitch.model.reference`: the reference model;
- :mod:`~ptychostitch.model.factory`: ``--model reference|module:factory`` and the contract a user's model follows;
- :mod:`~ptychostitch.model.options`: training options and loss names (no torch);
- :mod:`~ptychostitch.model.outputs`: checks on what a model returns;
- :mod:`~ptychostitch.model.train`: the training loop;
- :mod:`~ptychostitch.model.predict`: batched prediction as a stream of patch batches;
- :mod:`~ptychostitch.model.twin`: resolving the twin-image ambiguity from scan overlaps;
- :mod:`~ptychostitch.model.checkpoint`: saving and loading weights.
"""
