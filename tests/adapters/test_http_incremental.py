"""Incremental reads of the http source, in both API modes, against the department API.

``after_id``: the API filters ``(updated_at, id) > (T, ID)``; ``since``: the API only
offers ``updated_at >= T`` and the state carries the ids already read at T. Both must give
every row exactly once across reads — including hundreds of rows sharing one timestamp,
split across reads and with more arriving at that same timestamp in between.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import pytest
from httpdept import DeptApi, http_config, secrets_for

from adapters.builtin.http import HttpSource
from adapters.sdk.errors import AdapterError

BOUNDARY = datetime.fromisoformat("2026-03-02T09:30:00+08:00")

MODES = {
    # the API takes the tie-breaker: rows after (T, ID), keyset pages
    "after_id-keyset": {
        "pagination": {"style": "keyset", "page_size": 40},
        "incremental": {"cursor_field": "gxsj", "id_field": "id", "mode": "after_id"},
    },
    # the API takes the tie-breaker, pages by number within one query
    "after_id-pages": {
        "pagination": {"style": "page", "page_size": 40},
        "incremental": {"cursor_field": "gxsj", "id_field": "id", "mode": "after_id"},
    },
    # the API only offers updated_since >= T: boundary rows de-duplicated from the state
    "since-offset": {
        "pagination": {"style": "offset", "page_size": 40},
        "incremental": {"cursor_field": "gxsj", "id_field": "id", "mode": "since"},
    },
    "since-cursor": {
        "pagination": {"style": "cursor", "page_size": 40},
        "incremental": {"cursor_field": "gxsj", "id_field": "id", "mode": "since"},
    },
}


@pytest.fixture
def api() -> Iterator[DeptApi]:
    with DeptApi() as running:
        yield running


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def new_source(api: DeptApi, mode: str) -> HttpSource:
    return HttpSource.from_config(http_config(api, MODES[mode]), secrets=secrets_for(api))


def read(api: DeptApi, mode: str, state: dict | None, *, stop_after: int | None = None):
    """One run as the hub does it, state stored through JSON; optionally stopped early."""
    got = []
    with new_source(api, mode).read("cases", state) as stream_read:
        for envelope in stream_read:
            got.append(envelope)
            if stop_after is not None and len(got) == stop_after:
                break
        stored = json.loads(json.dumps(stream_read.state()))
    return [e.raw["id"] for e in got], stored


def test_no_change_reads_nothing_and_a_change_reads_exactly_the_changed(
    api: DeptApi, mode: str
) -> None:
    rows = api.table.add(100)
    ids, state = read(api, mode, None)
    assert ids == [r["id"] for r in rows]

    again, state = read(api, mode, state)
    assert again == []

    changed = [rows[3]["id"], rows[50]["id"], rows[99]["id"]]
    api.table.change(changed)
    after_change, state = read(api, mode, state)
    assert after_change == changed

    assert read(api, mode, state)[0] == []


def test_300_rows_sharing_one_timestamp_across_reads(api: DeptApi, mode: str) -> None:
    before = api.table.add(20)
    shared = api.table.add(300, cursor_value=BOUNDARY)
    # first run stops half-way through the rows sharing the boundary timestamp
    first, state = read(api, mode, None, stop_after=20 + 150)
    assert state["cursor"] == shared[0]["gxsj"]

    # more rows arrive at exactly the same timestamp before the next run
    late = api.table.add(300, cursor_value=BOUNDARY)
    second, state = read(api, mode, state)
    third, state = read(api, mode, state)

    seen = Counter(first + second + third)
    expected = [r["id"] for r in before + shared + late]
    assert [i for i, n in seen.items() if n > 1] == []  # nothing duplicated
    assert sorted(seen) == sorted(expected)  # nothing lost
    assert third == []
    assert second == [r["id"] for r in shared[150:] + late]


def test_since_mode_state_keeps_only_the_ids_at_the_latest_timestamp(api: DeptApi) -> None:
    api.table.add(50)
    shared = api.table.add(30, cursor_value=BOUNDARY)
    _, state = read(api, "since-offset", None)
    assert state == {
        "mode": "since",
        "cursor": shared[0]["gxsj"],
        "ids": [r["id"] for r in shared],
    }
    # the API answers updated_since=T with the 30 boundary rows again; none is yielded
    ids, state_again = read(api, "since-offset", state)
    assert ids == [] and state_again == state
    assert api.data_requests()[-1].params["updated_since"] == shared[0]["gxsj"]


def test_after_id_state_sends_the_tie_breaker(api: DeptApi) -> None:
    rows = api.table.add(5, cursor_value=BOUNDARY)
    _, state = read(api, "after_id-keyset", None)
    assert state == {"mode": "after_id", "cursor": rows[-1]["gxsj"], "id": rows[-1]["id"]}
    read(api, "after_id-keyset", state)
    last = api.data_requests()[-1].params
    assert (last["updated_after"], last["after_id"]) == (rows[-1]["gxsj"], str(rows[-1]["id"]))


def test_start_value_limits_the_first_read(api: DeptApi) -> None:
    old = api.table.add(10)
    new = api.table.add(5, cursor_value=BOUNDARY)
    config = http_config(
        api,
        {
            "pagination": {"style": "page", "page_size": 4},
            "incremental": {
                "cursor_field": "gxsj",
                "mode": "since",
                "start": old[-1]["gxsj"][:10] + "T23:59:59+08:00",
            },
        },
    )
    src = HttpSource.from_config(config, secrets=secrets_for(api))
    with src.read("cases") as stream_read:
        assert [e.raw["id"] for e in stream_read] == [r["id"] for r in new]


def test_state_from_the_other_mode_is_refused_with_advice(api: DeptApi) -> None:
    api.table.add(3)
    _, state = read(api, "after_id-keyset", None)
    with pytest.raises(AdapterError, match=r"mode 'after_id'.*says 'since'.*reset"):
        read(api, "since-offset", state)


@pytest.mark.parametrize(
    "state",
    [
        {"mode": "after_id", "cursor": "2026-03-01T08:00:00+08:00"},
        {"mode": "after_id", "cursor": None, "id": 3},
        {"mode": "since", "cursor": "2026-03-01T08:00:00+08:00", "ids": "1,2"},
    ],
)
def test_damaged_state_is_refused(api: DeptApi, state: dict) -> None:
    mode = "after_id-keyset" if state["mode"] == "after_id" else "since-offset"
    with pytest.raises(AdapterError, match="stored state of stream 'cases'"):
        read(api, mode, state)
