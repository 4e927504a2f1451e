"""Reading (and writing) files: PtychoPINN's grid-lines NPZs, patch predictions, the reassembly file.

The first stage of the data flow; it imports nothing from the stages after it.

- :func:`load_gridlines` (:mod:`~ptychostitch.data.gridlines`): the one way to open a grid-lines
  split, validated, with every patch position in the convention of :mod:`ptychostitch.geometry`;
- :func:`read_predictions` (:mod:`~ptychostitch.data.predictions`): a ``PRED.npz`` in any of the
  layouts models write, checked against a test split and streamed as
  :class:`~ptychostitch.patch_stream.PatchBatch` es; and its writer, which tees a patch stream
  into a ``PRED.npz``;
- the NPZ layer, split by job: :mod:`~ptychostitch.data.npy_header` (member headers, data offsets
  for memory maps), :mod:`~ptychostitch.data.streamed` (row-wise reads of deflated members),
  :mod:`~ptychostitch.data.safe_unpickle` (PtychoPINN's pickled metadata string, decoded without
  running code), :mod:`~ptychostitch.data.npz` (:func:`open_npz`), and
  :mod:`~ptychostitch.data.npz_writer` (members streamed to disk in chunks);
- :mod:`~ptychostitch.data.reassembly`: the memory-mappable reassembly file of a test split;
- :func:`read_stitched_object` (:mod:`~ptychostitch.data.stitched_object`): a stitched object
  (``stitched.npz``, or one made elsewhere for ``score``), checked against the ground-truth frame.
"""

from ptychostitch.data.gridlines import GridLinesDataset, load_gridlines
from ptychostitch.data.npz import open_npz
from ptychostitch.data.predictions import DEFAULT_BATCH_SIZE, Predictions, read_predictions
from ptychostitch.data.stitched_object import StitchedObject, read_stitched_object

__all__ = ["DEFAULT_BATCH_SIZE", "GridLinesDataset", "Predictions", "StitchedObject", "load_gridlines", "open_npz", "read_predictions", "read_stitched_object"]
