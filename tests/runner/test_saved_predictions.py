"""``run`` saves its predicted patches as ``predictions.npz``; ``evaluate`` on that file reproduces the run.

One tiny 1-epoch run (module fixture) serves the reproduction and the file-format tests: the
patches the stitcher was handed are recorded on the way in, independently of the writer.
"""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.data import load_gridlines, open_npz
from ptychostitch.data.predictions import PredictionsWriter, read_predictions
from ptychostitch.patch_stream import PatchBatch
from ptychostitch.runner.run import RunConfig, run
from ptychostitch.simulate import SimulationConfig, simulate
from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


@dataclasses.dataclass
class TinyRun:
    train: Path
    test: Path
    out: Path
    document: dict[str, Any]
    stitched_patches: np.ndarray  # every batch the stitcher was handed, in order


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    root = tmp_path_factory.mktemp("saved")
    paths = simulate(TINY, root / "data")
    seen: list[np.ndarray] = []
    original = TorchMmapStitcher.stitch

    def recording_stitch(self: TorchMmapStitcher, context: Any, batches: Any) -> Any:
        def copies() -> Iterator[PatchBatch]:
            for batch in batches:
                seen.append(np.array(batch.patches, copy=True))
                yield batch

        return original(self, context, copies())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TorchMmapStitcher, "stitch", recording_stitch)
        config = RunConfig(output_dir=root / "out", train_npz=paths.train, test_npz=paths.test, epochs=1, infer_batch_size=50)
        _, document = run(config)
    assert len(seen) > 1  # several prediction batches, so the file was written in parts
    return TinyRun(paths.train, paths.test, root / "out", document, np.concatenate(seen))


def test_evaluate_on_the_saved_predictions_reproduces_the_run_exactly(tiny_run: TinyRun, tmp_path: Path) -> None:
    assert tiny_run.document["stitcher"]["name"] == "torch-mmap"
    code = main(["evaluate", "-q", "--test-npz", str(tiny_run.test), "--predictions", str(tiny_run.out / "predictions.npz"),
                 "--output-dir", str(tmp_path / "ev")])
    assert code == 0
    run_metrics = json.loads((tiny_run.out / "metrics.json").read_text())
    evaluated = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert evaluated["stitched"] == run_metrics["stitched"]  # equal floats, not approximately
    assert evaluated["stitcher"] == run_metrics["stitcher"]
    with np.load(tiny_run.out / "stitched.npz") as a, np.load(tmp_path / "ev" / "stitched.npz") as b:
        np.testing.assert_array_equal(a["object"], b["object"])
        np.testing.assert_array_equal(a["coverage"], b["coverage"])


def test_saved_predictions_are_stored_uncompressed_and_hold_the_stitched_patches(tiny_run: TinyRun) -> None:
    path = tiny_run.out / "predictions.npz"
    with zipfile.ZipFile(path) as archive:
        (info,) = archive.infolist()
    assert info.filename == "patches.npy" and info.compress_type == zipfile.ZIP_STORED
    test = load_gridlines(tiny_run.test)
    with np.load(path, allow_pickle=False) as loaded:
        patches = loaded["patches"]
    assert patches.dtype == np.complex64 and patches.shape == (test.n_rows, test.N, test.N, test.channels)
    np.testing.assert_array_equal(patches, tiny_run.stitched_patches)
    assert isinstance(open_npz(path).array("patches"), np.memmap)  # evaluate maps it, it does not load it
    assert read_predictions(path, test).layout == "complex-last"


def test_no_save_predictions_writes_no_predictions_file(tiny_run: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["run", "-q", "--train-npz", str(tiny_run.train), "--test-npz", str(tiny_run.test), "--output-dir", str(out),
                 "--checkpoint", str(tiny_run.out / "checkpoint.pt"), "--epochs", "0", "--no-save-predictions"])
    assert code == 0
    assert (out / "metrics.json").is_file() and (out / "stitched.npz").is_file()
    assert not list(out.rglob("predictions*")) and not list(out.rglob(".predictions*"))


def lazy_batches(patches: np.ndarray, size: int, produced: list[int]) -> Iterator[PatchBatch]:
    """Batches made one at a time, as a model makes them; ``produced`` counts those made so far."""
    for start in range(0, len(patches), size):
        produced.append(start)
        yield PatchBatch(start, patches[start : start + size].copy())


def test_writer_takes_a_generator_batch_by_batch_and_passes_each_batch_on_before_the_next_is_made(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    patches = (rng.normal(size=(23, 6, 6, 4)) + 1j * rng.normal(size=(23, 6, 6, 4))).astype(np.complex64)
    produced: list[int] = []
    passed: list[PatchBatch] = []
    with PredictionsWriter(tmp_path / "p.npz", 23, 6, 4) as writer:
        for batch in writer.tee(lazy_batches(patches, 5, produced)):
            assert len(produced) == len(passed) + 1  # nothing is read ahead: the stream is not gathered
            passed.append(batch)
    assert [b.start for b in passed] == [0, 5, 10, 15, 20]
    with np.load(tmp_path / "p.npz", allow_pickle=False) as loaded:
        stored = loaded["patches"]
    for batch in passed:  # each batch landed at its own rows
        np.testing.assert_array_equal(stored[batch.start : batch.stop], patches[batch.start : batch.stop])


def test_writer_holds_about_one_batch_in_memory_whatever_the_stream_length(tmp_path: Path) -> None:
    batch_shape, n_batches = (64, 16, 16, 4), 40  # 0.5 MiB a batch, 20 MiB in all

    def batches() -> Iterator[PatchBatch]:
        for k in range(n_batches):
            yield PatchBatch(k * batch_shape[0], np.full(batch_shape, k + 1j, np.complex64))

    batch_bytes = np.zeros(batch_shape, np.complex64).nbytes
    tracemalloc.start()
    try:
        with PredictionsWriter(tmp_path / "big.npz", n_batches * batch_shape[0], 16, 4) as writer:
            for _ in writer.tee(batches()):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * batch_bytes, f"peak {peak / 2**20:.1f} MiB for {batch_bytes / 2**20:.1f} MiB batches"
    stored = open_npz(tmp_path / "big.npz").array("patches")
    assert stored.shape == (n_batches * batch_shape[0], 16, 16, 4)
    for k in (0, 17, n_batches - 1):
        np.testing.assert_array_equal(stored[k * batch_shape[0] : (k + 1) * batch_shape[0]], np.full(batch_shape, k + 1j, np.complex64))


def test_writer_refuses_an_incomplete_or_out_of_order_stream(tmp_path: Path) -> None:
    patches = np.ones((10, 4, 4, 1), np.complex64)
    with pytest.raises(ValueError, match="held 5 rows, expected 10"):
        with PredictionsWriter(tmp_path / "short.npz", 10, 4, 1) as writer:
            list(writer.tee([PatchBatch(0, patches[:5])]))
    with pytest.raises(ValueError, match="does not follow"):
        with PredictionsWriter(tmp_path / "gap.npz", 10, 4, 1) as writer:
            list(writer.tee([PatchBatch(0, patches[:3]), PatchBatch(5, patches[5:])]))
    with pytest.raises(ValueError, match="does not fit"):
        with PredictionsWriter(tmp_path / "wide.npz", 10, 4, 1) as writer:
            list(writer.tee([PatchBatch(0, np.ones((10, 4, 4, 2), np.complex64))]))
