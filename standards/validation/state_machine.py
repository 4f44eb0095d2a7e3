"""Legal case-state transitions (办件状态流转).

The table follows the 工程建设审批 state codes: a case is received or accepted, may go
through correction (补正) or a special procedure (特别程序), ends in a decision (办结),
and may afterwards only be revoked (撤销). 撤件/不受理/不予受理/撤回/撤销 end a case.
"""

from __future__ import annotations

from standards.codes.enums import CaseState as S

INITIAL_STATES: frozenset[S] = frozenset({S.RECEIVED, S.ACCEPTED})

_DONE = {S.DONE_APPROVED, S.DONE_TOLERANCE, S.DONE_DENIED}

# What may follow 补正(结束): before 受理 the case is accepted, refused or withdrawn;
# after it, handling resumes or ends. Which one applies, only the history tells.
_BEFORE_ACCEPTANCE = frozenset(
    {S.ACCEPTED, S.NOT_ACCEPTED, S.REJECTED, S.WITHDRAWN_BEFORE_ACCEPTANCE, S.CORRECTION_START}
)
_AFTER_ACCEPTANCE = frozenset({S.CORRECTION_START, S.PROCESSING, S.RETRACTED} | _DONE)

TRANSITIONS: dict[S, frozenset[S]] = {
    S.RECEIVED: frozenset(
        {S.WITHDRAWN_BEFORE_ACCEPTANCE, S.ACCEPTED, S.NOT_ACCEPTED, S.REJECTED, S.CORRECTION_START}
    ),
    S.CORRECTION_START: frozenset({S.CORRECTION_END}),
    # Pairwise, both: :func:`illegal_step` picks one by whether the case was accepted.
    S.CORRECTION_END: _BEFORE_ACCEPTANCE | _AFTER_ACCEPTANCE,
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
    accepted = states[0] is S.ACCEPTED
    for i in range(1, len(states)):
        prev, cur = states[i - 1], states[i]
        allowed = TRANSITIONS[prev]
        if prev is S.CORRECTION_END:
            # 补正 before 受理 may only end in acceptance or refusal; after 受理 it may
            # not be accepted again (no 办结 before 受理, no second 受理).
            allowed = _AFTER_ACCEPTANCE if accepted else _BEFORE_ACCEPTANCE
        if cur not in allowed:
            if not allowed:
                reason = f"no event may follow {prev.value} {prev.label}"
            elif prev is S.CORRECTION_END:
                when = "after" if accepted else "before"
                reason = (
                    f"{prev.value} {prev.label} {when} 已受理 cannot be followed by "
                    f"{cur.value} {cur.label}"
                )
            else:
                reason = f"{prev.value} {prev.label} cannot be followed by {cur.value} {cur.label}"
            return i, reason
        accepted = accepted or cur is S.ACCEPTED
    return None
