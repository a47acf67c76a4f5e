"""The shared job id counter (bot.jobs.ids): one sequence across processes."""

from __future__ import annotations

import multiprocessing
import struct

from bot.jobs.ids import IDS_NAME, IdCounter


def _draw(path: str, rounds: int, out) -> None:
    counter = IdCounter(path)
    taken = []
    for i in range(rounds):
        taken.extend(counter.take(1 + i % 3))
    counter.close()
    out.put(taken)


def test_a_new_counter_starts_at_one(tmp_path) -> None:
    counter = IdCounter(tmp_path / IDS_NAME)
    assert counter.take(3) == range(1, 4)
    assert counter.next() == 4


def test_a_counter_written_as_eight_big_endian_bytes_continues(tmp_path) -> None:
    path = tmp_path / IDS_NAME
    path.write_bytes(struct.pack(">Q", 41))
    counter = IdCounter(path)
    assert counter.next() == 41
    counter.close()
    assert path.read_bytes() == struct.pack(">Q", 42)


def test_a_counter_cut_short_starts_again_at_one_and_reset_moves_it_up(tmp_path) -> None:
    path = tmp_path / IDS_NAME
    path.write_bytes(b"\x00\x00\x01")
    counter = IdCounter(path)
    assert counter.reset_above(99) == 100
    assert counter.reset_above(5) == 100  # never moves down
    assert counter.next() == 100


def test_two_handles_see_each_others_draws(tmp_path) -> None:
    a = IdCounter(tmp_path / IDS_NAME)
    b = IdCounter(tmp_path / IDS_NAME)
    assert a.next() == 1
    assert b.take(2) == range(2, 4)
    assert a.next() == 4


def test_processes_drawing_at_once_never_share_an_id(tmp_path) -> None:
    path = str(tmp_path / IDS_NAME)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_draw, args=(path, 300, out)) for _ in range(3)]
    for p in procs:
        p.start()
    drawn = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    every = [i for ids in drawn for i in ids]
    assert len(every) == len(set(every))
    assert sorted(every) == list(range(1, len(every) + 1))
    for ids in drawn:
        assert ids == sorted(ids)  # each process sees its own draws in order
