"""Live stitching from Python: a simulated beamline stream fed to ``LiveStitch`` as it arrives.

A smooth complex object is scanned at random positions; frames arrive in shuffled batches, some
positions arrive late (NaN at first, placed a few batches later) and a few never arrive (dropped
when the scan ends). After every batch a snapshot of the object is taken and the progress
printed. Run it with ``python examples/live_stitch.py`` (``--frames``, ``--seed``); see
``docs/distributed.md#live-use-from-python``.
"""

from __future__ import annotations

import argparse

import numpy as np

from ptychostitch.stitchers import LiveStitch, StitchOptions, live_context

N = 32
SIZE = 160


def smooth_object(size: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth complex object: amplitude in (0.5, 1.5), phase in (-1, 1) rad."""
    noise = np.fft.fft2(rng.standard_normal((2, size, size)))
    k = np.fft.fftfreq(size)
    low = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * 0.03**2))
    smooth = np.real(np.fft.ifft2(noise * low))
    smooth /= np.abs(smooth).max(axis=(1, 2), keepdims=True)
    return ((1 + 0.5 * smooth[0]) * np.exp(1j * smooth[1])).astype(np.complex64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="frames in the scan")
    parser.add_argument("--batch", type=int, default=50, help="frames per arriving batch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    truth = smooth_object(SIZE, rng)
    corners = rng.integers(0, SIZE - N + 1, size=(args.frames, 2))
    patches = np.stack([truth[y : y + N, x : x + N] for y, x in corners])[..., None]  # (frames, N, N, 1)
    positions = (corners + (N - 1) / 2.0)[:, None, :]  # patch centres (y, x), docs/geometry.md

    late = rng.random(args.frames) < 0.1  # position known only a few batches later
    lost = rng.random(args.frames) < 0.02  # position never arrives
    order = rng.permutation(args.frames)  # frames arrive out of order

    live = LiveStitch(live_context((SIZE, SIZE), N, options=StitchOptions(crop=N // 2)))
    pending: list[tuple[int, int]] = []  # (batch number at which the position arrives, frame)
    for number, start in enumerate(range(0, args.frames, args.batch)):
        for frame in order[start : start + args.batch]:
            known = positions[frame].copy()
            if late[frame] or lost[frame]:
                known[:] = np.nan
                if not lost[frame]:
                    pending.append((number + 2, int(frame)))
            live.add(int(frame), patches[frame : frame + 1], known[None])
        for arrival, frame in [p for p in pending if p[0] <= number]:
            live.place(frame, positions[frame])
            pending.remove((arrival, frame))
        snap = live.snapshot()
        counts = live.counts
        print(f"batch {number + 1:3d}: {counts.added:5d} frames in, {counts.held:3d} held, "
              f"{counts.dropped} dropped, {np.mean(snap.coverage > 0):6.1%} of the frame covered")
    for _, frame in pending:
        live.place(frame, positions[frame])
    done = live.finish()
    covered = done.result.coverage > 0
    error = np.abs(done.result.object[covered] - truth[covered]).max()
    print(f"finished: {done.counts.added} frames stitched, {done.counts.dropped} dropped "
          f"(positions never arrived), max |object - truth| on covered pixels {error:.2e}")


if __name__ == "__main__":
    main()
