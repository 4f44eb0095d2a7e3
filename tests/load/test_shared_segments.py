"""The loading process takes segments itself while the workers' next answer is pending."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any

import pytest

from standards.formats import ParseLimits, UnsafeInput
from standards.formats.segments import XmlSegment
from standards.validation import CheckOptions
from tongyuan.validating import LOCAL_AHEAD, _in_file_order


class _Held(Future[Any]):
    """A pool answer that is ready only once asked for (a worker that is always slower)."""

    def __init__(self, run: Any) -> None:
        super().__init__()
        self._run = run

    def result(self, timeout: float | None = None) -> Any:
        if not super().done():
            self.set_result(self._run())
        return super().result(timeout)


class _SlowPool(Executor):
    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted.append(args[0].index)
        return _Held(lambda: fn(*args, **kwargs))


def _segments(count: int) -> list[XmlSegment]:
    return [XmlSegment("f.xml", "case", i, i, i + 1, 1, i == count - 1) for i in range(count)]


def _work(calls: list[int], fail_at: int | None = None) -> Any:
    def work(segment: XmlSegment, options: CheckOptions, limits: ParseLimits) -> Any:
        calls.append(segment.index)
        if segment.index == fail_at:
            return [], ("xml.malformed", "broken", 3)
        return [f"{segment.index}.{n}" for n in range(3)], None

    return work


def _answers(pool: Executor, work: Any, count: int, *, share: bool) -> list[Any]:
    return list(
        _in_file_order(
            pool, work, _segments(count), CheckOptions(), ParseLimits(), 1, "f.xml", share=share
        )
    )


def test_shared_answers_come_in_file_order_and_some_are_done_here() -> None:
    pool = _SlowPool()
    calls: list[int] = []
    answers = _answers(pool, _work(calls), 12, share=True)
    assert [done for done, _ in answers] == [3 * i for i in range(12)]
    assert [out for _, out in answers] == [[f"{i}.{n}" for n in range(3)] for i in range(12)]
    here = sorted(set(range(12)) - set(pool.submitted))
    assert here, "the loading process took no segment itself"
    assert sorted(pool.submitted + here) == list(range(12))


def test_without_sharing_every_segment_goes_to_the_pool() -> None:
    pool = _SlowPool()
    answers = _answers(pool, _work([]), 6, share=False)
    assert pool.submitted == list(range(6))
    assert len(answers) == 6


def test_local_answers_waiting_are_bounded() -> None:
    pool = _SlowPool()
    calls: list[int] = []
    answers = _in_file_order(
        pool, _work(calls), _segments(40), CheckOptions(), ParseLimits(), 1, "f.xml", share=True
    )
    next(answers)
    # Before the first answer is taken: the pool's two plus at most LOCAL_AHEAD done here.
    local = [i for i in calls if i not in pool.submitted]
    assert len(local) <= LOCAL_AHEAD + 1


def test_a_segment_failing_here_stops_the_answers_where_it_is() -> None:
    pool = _SlowPool()
    calls: list[int] = []
    # Segment 2 is the first one this process takes itself (0 and 1 are in the pool).
    answers = _answers(pool, _work(calls, fail_at=2), 8, share=True)
    assert 2 not in pool.submitted
    assert answers[-1] == (6, None)
    assert len(answers) == 3


def test_the_record_limit_holds_for_shared_segments() -> None:
    limits = ParseLimits(max_records=10)
    answers = _in_file_order(
        _SlowPool(), _work([]), _segments(8), CheckOptions(), limits, 1, "f.xml", share=True
    )
    with pytest.raises(UnsafeInput, match="more than 10 records"):
        list(answers)


def test_segments_done_here_go_through_local_work() -> None:
    pool = _SlowPool()
    here: list[int] = []

    def local(segment: XmlSegment, options: CheckOptions, limits: ParseLimits) -> Any:
        here.append(segment.index)
        return [f"{segment.index}.{n}" for n in range(3)], None

    answers = list(
        _in_file_order(
            pool, _work([]), _segments(12), CheckOptions(), ParseLimits(), 1, "f.xml",
            share=True, local_work=local,
        )
    )  # fmt: skip
    assert here and sorted(pool.submitted + here) == list(range(12))
    assert [a for _, outcomes in answers for a in outcomes] == [
        f"{i}.{n}" for i in range(12) for n in range(3)
    ]
