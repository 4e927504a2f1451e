"""Twin orientation: overlaps of true patches agree, twins do not, and the choice follows."""

import numpy as np
import torch
from torch import nn

from ptychostitch.model.physics import twin_image
from ptychostitch.model.twin import choose_orientation, overlap_disagreement
from ptychostitch.testing.model_data import disk_probe, smooth_objects

N, STRIDE, M = 16, 4, 6


def scan():
    """True patches cut from one known object on an M x M grid, their (y, x) positions, and the probe."""
    obj = smooth_objects(STRIDE * (M - 1) + N, 1, seed=3)[0]
    patches, positions = [], []
    for r in range(M):
        for c in range(M):
            patches.append(obj[STRIDE * r : STRIDE * r + N, STRIDE * c : STRIDE * c + N])
            positions.append((STRIDE * r + (N - 1) / 2, STRIDE * c + (N - 1) / 2))
    return np.array(patches), np.array(positions), disk_probe(N)


class Lookup(nn.Module):
    """A stand-in model: the row index is written in pixel (0, 0) of its input; it returns that row's patch."""

    def __init__(self, patches: np.ndarray) -> None:
        super().__init__()
        self.table = torch.from_numpy(patches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table[x[:, 0, 0, 0].long()][:, None]


def indexed_rows(count: int) -> np.ndarray:
    x = np.zeros((count, N, N, 1), np.float32)
    x[:, 0, 0, 0] = np.arange(count)
    return x


def test_true_patches_agree_and_twins_do_not() -> None:
    patches, positions, probe = scan()
    weight = np.abs(probe) ** 2
    assert overlap_disagreement(np.abs(patches), positions, weight) < 1e-12
    assert overlap_disagreement(np.abs(twin_image(patches)), positions, weight) > 1e-3


def test_twin_of_twin_is_the_patch_and_rotates_about_the_centre() -> None:
    patches, _, _ = scan()
    np.testing.assert_array_equal(twin_image(twin_image(patches)), patches)
    assert twin_image(patches)[0, 0, 0] == np.conj(patches[0, N - 1, N - 1])


def test_orientation_is_chosen_from_overlaps() -> None:
    patches, positions, probe = scan()
    rows = indexed_rows(len(patches))
    straight = choose_orientation(Lookup(patches), rows, positions[:, None, :], probe, batch_size=7)
    assert not straight.twin and straight.disagreement < straight.twin_disagreement and straight.rows == M * M
    flipped = choose_orientation(Lookup(twin_image(patches)), rows, positions[:, None, :], probe, rows=20)
    assert flipped.twin and flipped.rows == 20
