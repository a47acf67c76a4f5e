"""The phase rows the engine records: the same as every phase's state, written only when
they change within a job."""

from __future__ import annotations

from tests.unit.workflow.support import all_human, bot


def test_phase_rows_follow_the_run_and_identical_rows_are_not_rewritten():
    b = bot(all_human())
    writes: list[tuple] = []
    real = b.w.runs.record_phase

    def counting(run_id, name, **fields):
        writes.append((run_id, name, tuple(sorted(fields.items()))))
        return real(run_id, name, **fields)

    b.w.runs.record_phase = counting
    wins: list[int] = []
    real_cas = b.w.runs.compare_and_set

    def cas(*args, **kwargs):
        won = real_cas(*args, **kwargs)
        wins.extend([1] if won is not None else [])
        return won

    b.w.runs.compare_and_set = cas
    b.label()
    for _ in range(6):
        b.approve()
    run = b.run()
    assert run.outcome == "succeeded"
    for phase in run.phases:
        assert b.w.runs.phases[(run.run_id, phase.name)]["state"] == phase.state
    # A row is written only when a won compare-and-set changed it (or a job's first
    # transition): far fewer writes than transitions.
    assert writes and len(writes) < len(wins) * 0.8
