"""Files on disk: streaming writer, determinism, overwrite protection, atomicity, the CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ptychostitch.simulate.simulator as simulator
from ptychostitch.cli import main
from ptychostitch.data.npz_writer import NpzStreamWriter
from ptychostitch.errors import InputError
from ptychostitch.simulate import SimulationConfig, simulate

TINY = SimulationConfig(N=16, gridsize=1, size=48, nimgs_train=2, nimgs_test=1, seed=5)
TINY_ARGS = ["--N", "16", "--size", "48", "--nimgs-train", "2", "--nimgs-test", "1", "--seed", "5"]


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def member_memmap(path: Path, name: str) -> np.ndarray:
    """Memory-map a STORED ``.npy`` member at its offset inside the zip."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
        assert info.compress_type == zipfile.ZIP_STORED
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        assert np.lib.format.read_magic(fh) == (1, 0)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        offset = fh.tell()
    assert not fortran
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, offset=offset)


def test_stream_writer_round_trip_and_memmap(tmp_path: Path) -> None:
    data = np.arange(7 * 3 * 2, dtype=np.complex64).reshape(7, 3, 2) * (1 + 2j)
    path = tmp_path / "s.npz"
    with NpzStreamWriter(path) as out:
        out.write_chunks("big", data.shape, data.dtype, [data[:3], data[3:4], data[4:]])
        out.write_array("small", np.array("text"))
    loaded = load(path)
    np.testing.assert_array_equal(loaded["big"], data)
    assert loaded["small"].item() == "text"
    np.testing.assert_array_equal(member_memmap(path, "big"), data)
    with NpzStreamWriter(tmp_path / "bad.npz") as out:
        with pytest.raises(ValueError, match="expected 7"):
            out.write_chunks("big", data.shape, data.dtype, [data[:3]])
        with pytest.raises(ValueError, match="does not fit"):
            out.write_chunks("big2", data.shape, data.dtype, [data.astype(np.complex128)])


def test_stream_writer_member_takes_chunks_one_at_a_time(tmp_path: Path) -> None:
    data = np.arange(7 * 3 * 2, dtype=np.float32).reshape(7, 3, 2)
    path = tmp_path / "pushed.npz"
    with NpzStreamWriter(path) as out:
        with out.open_member("big", data.shape, data.dtype) as member:
            for start in range(0, 7, 2):
                member.write(data[start : start + 2])
                assert member.rows == min(start + 2, 7)
            with pytest.raises(ValueError, match="after 7 rows does not fit"):
                member.write(data[:1])  # past the end
    np.testing.assert_array_equal(member_memmap(path, "big"), data)
    with NpzStreamWriter(tmp_path / "failed.npz") as out:
        with pytest.raises(KeyError):  # the caller's own error, not a complaint about missing rows
            with out.open_member("big", data.shape, data.dtype) as member:
                member.write(data[:2])
                raise KeyError("the stream failed")


def test_output_independent_of_chunking_and_seeded(tmp_path: Path) -> None:
    default = simulate(TINY, tmp_path / "a")
    chunked = simulate(TINY, tmp_path / "b", chunk_rows=7)
    other_seed = simulate(SimulationConfig(**{**TINY.__dict__, "seed": 6}), tmp_path / "c")
    for a_path, b_path, c_path in ((default.train, chunked.train, other_seed.train), (default.test, chunked.test, other_seed.test)):
        a, b, c = load(a_path), load(b_path), load(c_path)
        for key in a:
            if key != "_metadata":
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        meta_a, meta_b = json.loads(a["_metadata"].item()), json.loads(b["_metadata"].item())
        meta_a["creation_info"].pop("timestamp"), meta_b["creation_info"].pop("timestamp")
        assert meta_a == meta_b
        np.testing.assert_array_equal(a["Y_I"], c["Y_I"])
        assert not np.array_equal(a["diffraction"], c["diffraction"])
    assert member_memmap(default.train, "diffraction").shape == load(default.train)["diffraction"].shape


def test_compress_writes_deflated_members_with_same_content(tmp_path: Path) -> None:
    plain = simulate(TINY, tmp_path / "plain")
    packed = simulate(SimulationConfig(**{**TINY.__dict__, "compress": True}), tmp_path / "packed")
    with zipfile.ZipFile(packed.test) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert packed.test.stat().st_size < plain.test.stat().st_size
    a, b = load(plain.test), load(packed.test)
    for key in ("diffraction", "Y_I", "YY_ground_truth", "coords_offsets"):
        np.testing.assert_array_equal(a[key], b[key])


def test_existing_dataset_is_kept_unless_overwrite(tmp_path: Path) -> None:
    paths = simulate(TINY, tmp_path)
    before = paths.test.read_bytes()
    with pytest.raises(InputError, match="exists already; pass --overwrite"):
        simulate(SimulationConfig(**{**TINY.__dict__, "seed": 9}), tmp_path)
    assert paths.test.read_bytes() == before
    simulate(SimulationConfig(**{**TINY.__dict__, "seed": 9}), tmp_path, overwrite=True)
    assert paths.test.read_bytes() != before


def test_failure_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = simulate(TINY, tmp_path)
    before = {p: p.read_bytes() for p in (paths.train, paths.test)}
    calls = []

    def failing(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    real = simulator.diffract
    monkeypatch.setattr(simulator, "diffract", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        simulate(TINY, tmp_path, overwrite=True, chunk_rows=50)
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in paths.test.parent.iterdir()) == ["test.npz", "train.npz"]
    fresh = tmp_path / "fresh"
    calls.clear()
    with pytest.raises(RuntimeError):
        simulate(TINY, fresh, chunk_rows=50)
    assert not any(p.is_file() for p in fresh.rglob("*"))


def test_cli_writes_dataset_and_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["simulate", "-q", "--output-dir", str(out), *TINY_ARGS]) == 0
    printed = capsys.readouterr()
    train = out / "datasets" / "N16" / "gs1" / "train.npz"
    assert printed.out.split() == [str(train), str(train.with_name("test.npz"))]
    assert printed.err == ""
    np.testing.assert_array_equal(load(train)["Y_I"], load(simulate(TINY, tmp_path / "api").train)["Y_I"])
    assert main(["simulate", "-q", "--output-dir", str(out), *TINY_ARGS]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["simulate", "-q", "--output-dir", str(out), "--probe", str(tmp_path / "nope.npz"), "--overwrite", *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.npz" in err and "probeGuess" in err
