"""How to train: the loss names and :class:`TrainOptions`, importable without torch.

The one place that declares the losses and the training defaults; the training loop
(:mod:`ptychostitch.model.train`), ``RunConfig`` and the ``run`` command's flags all read them
from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from ptychostitch.errors import InputError

LossName = Literal["mae", "poisson", "supervised"]
"""The training losses (defined in ``docs/model.md``, "Losses")."""

LOSSES: tuple[str, ...] = get_args(LossName)
"""The values of :data:`LossName`, in order."""


@dataclass(frozen=True)
class TrainOptions:
    """How to train; each field's help is in its ``metadata["help"]``.

    The defaults are the embedded default run's (``docs/model.md``, "Tuning").

    Attributes
    ----------
    loss : {"mae", "poisson", "supervised"}
        ``mae``: mean absolute error of the predicted diffraction amplitude. ``poisson``: Poisson
        deviance of the counts (needs ``s_I``). ``supervised``: mean absolute error of amplitude
        ``Y_I / |P_sim|`` and phase ``Y_phi`` inside the probe support.
    learning_rate : float
        Decays on a half cosine to ``learning_rate / 20``.
    seed : int
        Seeds the batch order and torch's random state while training (restored afterwards);
        initial weights come from ``build_model(spec, seed)``. On CPU two runs give identical
        weights.
    device : str
        ``"cpu"`` or a torch device string.
    """

    loss: LossName = field(
        default="mae", metadata={"help": "self-supervised amplitude MAE, Poisson NLL, or the supervised baseline on Y_I/Y_phi"}
    )
    epochs: int = field(default=20, metadata={"help": "training epochs; 0 trains nothing", "metavar": "E", "check": "non-negative"})
    batch_size: int = field(default=32, metadata={"help": "training batch size", "metavar": "B", "check": "positive"})
    learning_rate: float = field(default=3e-4, metadata={"help": "Adam step size", "metavar": "LR", "check": "positive"})
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise InputError(f"training: loss must be one of {', '.join(LOSSES)}, found {self.loss!r}")
        if self.epochs < 0 or self.batch_size < 1 or not self.learning_rate > 0:
            raise InputError(
                f"training: epochs >= 0, batch size >= 1 and learning rate > 0 required, "
                f"found {self.epochs}, {self.batch_size}, {self.learning_rate}"
            )
