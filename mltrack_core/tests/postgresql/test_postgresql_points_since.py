"""points_since on PostgreSQL reads only the new points and answers any order of counts right."""

from __future__ import annotations

import mltrack_core as mt
from mltrack_core.store import Point


def test_points_since_follows_a_growing_run_in_any_order_of_counts(store_uri: str) -> None:
    """The store remembers where the last answer ended; counts that grow, repeat or shrink all get the right points."""
    with mt.connect(store_uri) as tracker:
        run = tracker.track_training(name="live")
        other = tracker.track_training(name="interleaved")
        expected: list[Point] = []
        for round_ in range(4):
            batch = [Point(run.id, "loss", float(i), None, i, 1_000 + i) for i in range(10 * round_, 10 * round_ + 10)]
            tracker.store.append_points([*batch, Point(other.id, "loss", 0.0, None, round_, 1_000)])
            expected += batch
            for count in (len(expected) - 10, len(expected) - 3, len(expected), 5, len(expected) - 3, 0):
                assert tracker.points_since(run.id, count) == expected[count:], (round_, count)
        assert tracker.points_since(run.id, 41) == []
        assert tracker.points_since(run.id, 40) == [] and tracker.points_since(run.id, 39) == expected[39:]
        assert tracker.points_since("run-unknown", 0) == [] and tracker.points_since("run-unknown", 3) == []
        run.finish()
        other.finish()
