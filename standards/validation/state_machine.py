"""Legal case-state transitions (办件状态流转).

The table follows the 工程建设审批 state codes: a case is received or accepted, may go
through correction (补正) or a special procedure (特别程序), ends in a decision (办结),
and may afterwards only be revoked (撤销). 撤件/不受理/不予受理/撤回/撤销 end a case.
"""

from __future__ import annotations

from standards.codes.enums import CaseState as S

INITIAL_STATES: frozenset[S] = frozenset({S.RECEIVED, S.ACCEPTED})

_DONE = {S.DONE_APPROVED, S.DONE_TOLERANCE, S.DONE_DENIED}

TRANSITIONS: dict[S, frozenset[S]] = {
    S.RECEIVED: frozenset(
        {S.WITHDRAWN_BEFORE_ACCEPTANCE, S.ACCEPTED, S.NOT_ACCEPTED, S.REJECTED, S.CORRECTION_START}
    ),
    S.CORRECTION_START: frozenset({S.CORRECTION_END}),
    # After a correction the case is accepted or refused (补正 before 受理), or handling
    # resumes (补正 during 办理).
    S.CORRECTION_END: frozenset(
        {S.ACCEPTED, S.NOT_ACCEPTED, S.REJECTED, S.CORRECTION_START, S.PROCESSING, S.RETRACTED}
        | _DONE
    ),
    S.ACCEPTED: frozenset({S.CORRECTION_START, S.PROCESSING, S.SPECIAL_START, S.RETRACTED} | _DONE),
    S.PROCESSING: frozenset({S.CORRECTION_START, S.SPECIAL_START, S.RETRACTED} | _DONE),
    S.SPECIAL_START: frozenset({S.SPECIAL_END}),
    S.SPECIAL_END: frozenset({S.PROCESSING, S.RETRACTED} | _DONE),
    S.DONE_APPROVED: frozenset({S.REVOKED}),
    S.DONE_TOLERANCE: frozenset({S.REVOKED}),
    S.DONE_DENIED: frozenset({S.REVOKED}),
    S.WITHDRAWN_BEFORE_ACCEPTANCE: frozenset(),
    S.NOT_ACCEPTED: frozenset(),
    S.REJECTED: frozenset(),
    S.RETRACTED: frozenset(),
    S.REVOKED: frozenset(),
}


def illegal_step(states: list[S]) -> tuple[int, str] | None:
    """The first illegal step in a state sequence as (index, reason), or None if legal."""
    if not states:
        return None
    if states[0] not in INITIAL_STATES:
        return 0, f"a case cannot start in state {states[0].value} {states[0].label}"
    for i in range(1, len(states)):
        prev, cur = states[i - 1], states[i]
        if cur not in TRANSITIONS[prev]:
            if not TRANSITIONS[prev]:
                reason = f"no event may follow {prev.value} {prev.label}"
            else:
                reason = f"{prev.value} {prev.label} cannot be followed by {cur.value} {cur.label}"
            return i, reason
    return None
