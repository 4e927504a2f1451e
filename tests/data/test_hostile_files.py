"""Hostile input files: size bombs (peak memory measured in a child process), absurd metadata, the wrong split, odd names, read errors.

Every one is exit 2 with one line naming the file (quoted) and the key, and none takes more
memory than a small multiple of the file's size.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.data import inflated, load_gridlines
from ptychostitch.errors import InputError
from ptychostitch.simulate import SimulationConfig, simulate
from ptychostitch.testing.files import write_grid_file, write_npz, write_scattered_file

MiB = 2**20

LOAD_AND_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from ptychostitch.data import inflated, load_gridlines
    from ptychostitch.errors import InputError
    try:
        load_gridlines(sys.argv[1])
        print("loaded")
    except InputError as exc:
        print(exc)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """
)


def load_in_child(path: Path) -> tuple[str, int]:
    """``load_gridlines(path)`` in a fresh interpreter: its one line of outcome and its peak memory in bytes."""
    done = subprocess.run([sys.executable, "-c", LOAD_AND_MEASURE, str(path)], capture_output=True, text=True, timeout=120, check=True)
    outcome, peak = done.stdout.strip().splitlines()
    return outcome, int(peak)


def add_deflated_member(path: Path, key: str, header: dict, data_bytes: int, *, declared_size: int | None = None) -> None:
    """Append member ``key``: a ``.npy`` ``header`` followed by ``data_bytes`` zero bytes, deflated (a genuine bomb);
    with ``declared_size``, the zip's decompressed size is forged to it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(key + ".npy", "w", force_zip64=True) as fh:
            fh.write(buf.getvalue())
            chunk = bytes(8 * MiB)
            for start in range(0, data_bytes, len(chunk)):
                fh.write(chunk[: min(len(chunk), data_bytes - start)])
        if declared_size is not None:
            archive.getinfo(key + ".npy").file_size = declared_size  # written into the central directory


def add_forged_member(path: Path, key: str, shape: tuple[int, ...]) -> None:
    """Append member ``key`` whose header declares ``shape`` complex64 and whose zip sizes are forged to match; it holds 64 bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<c8", "fortran_order": False, "shape": shape})
    header = buf.getvalue()
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(key + ".npy", header + bytes(64))
        archive.getinfo(key + ".npy").file_size = len(header) + int(np.prod(shape)) * 8  # written into the central directory


def add_misdeclared_member(path: Path, key: str, shape: tuple[int, ...], data_bytes: int) -> int:
    """Append member ``key``: a ``.npy`` header declaring ``shape`` float32, then ``data_bytes`` zero bytes, deflated,
    with the zip's decompressed size forged to what the header declares (returned)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    declared = len(buf.getvalue()) + int(np.prod(shape)) * 4
    add_deflated_member(path, key, header, data_bytes, declared_size=declared)
    return declared


def grid_arrays(tmp_path: Path, *, without: tuple[str, ...] = ()) -> dict:
    arrays = dict(write_grid_file(tmp_path / "good.npz").arrays)
    for key in without:
        del arrays[key]
    return arrays


def bomb(kind: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """A small file that declares far more than it holds, and the words its error must contain."""
    path = tmp_path / f"{kind}.npz"
    if kind == "text metadata":
        write_npz(path, grid_arrays(tmp_path, without=("_metadata",)), compressed=True)
        add_deflated_member(path, "_metadata", {"descr": "<U134217728", "fortran_order": False, "shape": ()}, 512 * MiB)
        return path, ["'_metadata'", "declared <U134217728 text of 536870912 bytes", f"allowed at most {16 * MiB}"]
    if kind == "ground truth":
        write_npz(path, grid_arrays(tmp_path, without=("YY_ground_truth",)), compressed=True)
        add_deflated_member(path, "YY_ground_truth", {"descr": "<c8", "fortran_order": False, "shape": (8192, 8192, 1)}, 512 * MiB)
        return path, ["'YY_ground_truth'", "declared shape (8192, 8192)", "allowed (52, 52)"]
    scattered = dict(write_scattered_file(tmp_path / "scattered.npz").arrays)  # no grid: nothing else bounds the ground truth
    del scattered["YY_ground_truth"], scattered["YY_full"]
    write_npz(path, scattered, compressed=True)
    add_forged_member(path, "YY_ground_truth", (2**20, 2**20, 1))
    return path, ["'YY_ground_truth'", "declared shape (1048576, 1048576, 1) complex64 (8796093022208 bytes)", "allowed at most", "compressed bytes"]


@pytest.mark.parametrize("kind", ["text metadata", "ground truth", "forged header"])
def test_size_bombs_are_refused_before_anything_is_allocated(tmp_path: Path, kind: str) -> None:
    path, words = bomb(kind, tmp_path)
    size = path.stat().st_size
    assert size < 2 * MiB
    baseline_outcome, baseline = load_in_child(write_grid_file(tmp_path / "baseline.npz", compressed=True).path)
    outcome, peak = load_in_child(path)
    assert baseline_outcome == "loaded"
    assert outcome.startswith(repr(str(path)) + ": "), outcome
    for word in words:
        assert word in outcome, outcome
    assert peak <= baseline + 4 * size + 32 * MiB, f"peak {peak / MiB:.0f} MiB against {baseline / MiB:.0f} MiB for a {size / MiB:.1f} MiB file"


@pytest.mark.parametrize("held", ["more", "fewer"])
@pytest.mark.parametrize("in_memory_bytes", [inflated.IN_MEMORY_BYTES, 0], ids=["in memory", "temporary file"])
def test_the_cache_of_a_compressed_member_refuses_another_size_than_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: str, in_memory_bytes: int
) -> None:
    monkeypatch.setattr(inflated, "IN_MEMORY_BYTES", in_memory_bytes)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(cache))
    arrays = grid_arrays(tmp_path, without=("diffraction", "YY_ground_truth", "norm_Y_I"))  # a train split
    path = write_npz(tmp_path / f"{held}.npz", arrays, compressed=True)
    shape = arrays["Y_I"].shape
    data_bytes = 64 * MiB if held == "more" else int(np.prod(shape)) * 4 - 1000
    declared = add_misdeclared_member(path, "diffraction", shape, data_bytes)
    train = load_gridlines(path, split="train")
    assert train.diffraction[2:4].shape == (2, *shape[1:])  # rows it holds stream as before
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            train.diffraction[0:2]  # out of order: decompressed into the cache, whole
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith(f"{str(path)!r}: key 'diffraction': expected {declared} bytes once decompressed"), message
    found = "found more" if held == "more" else f"found {declared - int(np.prod(shape)) * 4 + data_bytes}"
    assert found in message and "\n" not in message, message
    assert peak < 3 * inflated.CHUNK_BYTES + 2 * declared, f"peak {peak / MiB:.1f} MiB decompressing a {data_bytes / MiB:.0f} MiB member"
    assert list(cache.iterdir()) == []


def with_metadata(tmp_path: Path, text: str) -> Path:
    arrays = grid_arrays(tmp_path)
    arrays["_metadata"] = np.array(text)
    return write_npz(tmp_path / "meta.npz", arrays)


def edited_metadata(tmp_path: Path, section: str, key: str | None, value_json: str) -> str:
    """The fixture's metadata JSON with ``section`` (or ``section.key``) set to the raw JSON text ``value_json``."""
    meta = json.loads(str(grid_arrays(tmp_path)["_metadata"]))
    if key is None:
        meta[section] = "__VALUE__"
    else:
        meta[section][key] = "__VALUE__"
    return json.dumps(meta).replace('"__VALUE__"', value_json)


@pytest.mark.parametrize(
    "section, key, value, words",
    [
        ("physics_parameters", "nphotons", "Infinity", ["physics_parameters.nphotons", "expected a finite number > 0", "found Infinity"]),
        ("additional_parameters", "size", "1e400", ["additional_parameters.size", "expected an integer >= 1", "found Infinity"]),
        ("additional_parameters", "outer_offset_test", "NaN", ["additional_parameters.outer_offset_test", "found NaN"]),
        ("additional_parameters", "nimgs_test", '"2"', ["additional_parameters.nimgs_test", "found the string '2'"]),
        ("additional_parameters", "offset", "-4", ["additional_parameters.offset", "expected an integer >= 0", "found -4"]),
        ("additional_parameters", None, "[1, 2]", ["additional_parameters: expected a JSON object, found a JSON array"]),
        ("physics_parameters", None, '"pinn"', ["physics_parameters: expected a JSON object, found the string 'pinn'"]),
    ],
)
def test_absurd_metadata_values_are_one_line_errors(tmp_path: Path, section: str, key: str | None, value: str, words: list[str]) -> None:
    path = with_metadata(tmp_path, edited_metadata(tmp_path, section, key, value))
    with pytest.raises(InputError) as err:
        load_gridlines(path)
    message = str(err.value)
    assert message.startswith(f"{str(path)!r}: key '_metadata': "), message
    for word in words:
        assert word in message, message


def test_deeply_nested_metadata_is_a_one_line_error(tmp_path: Path) -> None:
    path = with_metadata(tmp_path, '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(InputError, match="nested too deeply") as err:
        load_gridlines(path)
    assert str(err.value).startswith(f"{str(path)!r}: key '_metadata'")


@pytest.fixture(scope="module")
def equal_splits(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A dataset whose train and test splits have the same row count (same grid, same object count)."""
    config = SimulationConfig(N=16, size=48, outer_offset_train=8, outer_offset_test=8, nimgs_train=1, nimgs_test=1, seed=1)
    return simulate(config, tmp_path_factory.mktemp("equal"))


def test_a_train_split_given_as_the_test_split_is_refused(equal_splits, run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    assert load_gridlines(equal_splits.train, split="train").n_rows == load_gridlines(equal_splits.test).n_rows
    with pytest.raises(InputError, match=r"expected a test split.*found neither, as in a train split \(is this train\.npz\?\)"):
        load_gridlines(equal_splits.train)
    with pytest.raises(InputError, match=r"key 'YY_ground_truth': expected a train split.*is this test\.npz\?"):
        load_gridlines(equal_splits.test, split="train")
    pred = tmp_path / "pred.npz"
    np.savez(pred, patches=np.ones((load_gridlines(equal_splits.test).n_rows, 16, 16), np.complex64))
    status, out, err = run_cli("evaluate", "--test-npz", str(equal_splits.train), "--predictions", str(pred), "--output-dir", str(tmp_path / "out"))
    assert status == 2 and out == "" and err.count("\n") == 1
    assert repr(str(equal_splits.train)) in err and "train split" in err


def test_a_train_split_with_another_row_count_says_so(tmp_path: Path) -> None:
    paths = simulate(SimulationConfig(N=16, size=48, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, seed=1), tmp_path)
    arrays = dict(np.load(paths.train, allow_pickle=False))
    arrays["norm_Y_I"] = np.array(1.0)  # pretend to be a test split: the row count still tells
    with pytest.raises(InputError, match=r"key 'diffraction': expected 81 rows.*found 289 \(the row count of the train split"):
        load_gridlines(write_npz(tmp_path / "disguised.npz", arrays))


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    arrays = grid_arrays(tmp_path, without=("coords_nominal",))
    bad = write_npz(tmp_path / "bad\nname.npz", arrays)
    pred = tmp_path / "pred.npz"
    np.savez(pred, patches=np.ones((338, 16, 16), np.complex64))
    status, _, err = run_cli("evaluate", "--test-npz", str(bad), "--predictions", str(pred), "--output-dir", str(tmp_path / "out"))
    assert status == 2
    assert err.count("\n") == 1 and err.endswith("\n")
    assert repr(str(bad)) in err and "bad\\nname.npz" in err and "'coords_nominal'" in err


def test_non_finite_labels_name_the_file_and_key(tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    written = write_grid_file(tmp_path / "t.npz")
    arrays = dict(written.arrays)
    arrays["Y_I"] = arrays["Y_I"].copy()
    arrays["Y_I"][7, 3, 3, 0] = np.nan
    bad = write_npz(tmp_path / "nan labels.npz", arrays)
    pred = tmp_path / "pred.npz"
    np.savez(pred, patches=written.true_patches)
    status, _, err = run_cli(
        "evaluate", "-q", "--test-npz", str(bad), "--predictions", str(pred), "--output-dir", str(tmp_path / "out"), "--batch-size", "5"
    )
    assert status == 2 and err.count("\n") == 1
    assert f"{str(bad)!r}: key 'Y_I': expected finite values, found NaN or infinity in rows 5..9" in err
    assert not (tmp_path / "out").exists()


class BadSector:
    """A file whose bytes in ``[start, stop)`` cannot be read (EIO), as on a failing disk."""

    def __init__(self, raw: io.BufferedReader, start: int, stop: int) -> None:
        self._raw, self._start, self._stop = raw, start, stop

    def read(self, n: int = -1) -> bytes:
        position = self._raw.tell()
        end = position + (n if n >= 0 else 1 << 62)
        if position < self._stop and end > self._start:
            raise OSError(5, "Input/output error")
        return self._raw.read(n)

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the real file's
        return getattr(self._raw, name)


@pytest.mark.parametrize("key, compressed", [("_metadata", False), ("probeGuess", True), ("YY_ground_truth", False)])
def test_a_read_error_names_the_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, compressed: bool) -> None:
    written = write_grid_file(tmp_path / "t.npz", metadata="pickled", compressed=compressed)
    with zipfile.ZipFile(written.path) as archive:
        member = archive.getinfo(key + ".npy")
    with open(written.path, "rb") as fh:
        fh.seek(member.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", fh.read(4))
    middle = member.header_offset + 30 + name_len + extra_len + member.compress_size // 2  # past the .npy header
    sector = (middle, middle + 1)
    real_open = io.open

    def failing_open(file, *args, **kwargs):  # noqa: ANN001, ANN202
        raw = real_open(file, *args, **kwargs)
        return BadSector(raw, *sector) if str(file) == str(written.path) else raw

    monkeypatch.setattr(zipfile.io, "open", failing_open)
    with pytest.raises(InputError) as err:
        load_gridlines(written.path)
    message = str(err.value)
    assert message.startswith(f"{str(written.path)!r}: key {key!r}: "), message
    assert "Input/output error" in message or "OSError" in message
