"""Chapter 06's shared budget for unfinished frames (eventloop/frame_budget.py)."""

from __future__ import annotations

from eventloop.frame_budget import TOO_MUCH_UNFINISHED, BufferBudget


class Holder:
    """A connection as the budget sees it: it can be refused, and then holds nothing."""

    def __init__(self, budget: BufferBudget, name: str) -> None:
        self.budget, self.name = budget, name
        self.refusals: list[str] = []

    def frame_error(self, problem: str) -> None:
        self.refusals.append(problem)
        self.budget.count(self, 0)

    def __repr__(self) -> str:
        return self.name


def test_count_keeps_the_total_the_peak_and_who_holds_how_much():
    budget = BufferBudget(max_bytes=100)
    a, b = Holder(budget, "a"), Holder(budget, "b")
    budget.count(a, 30)
    budget.count(b, 50)
    budget.count(a, 10)  # a's frame partly completed
    assert budget.used == 60 and budget.peak == 80
    assert budget.holders == {a: 10, b: 50}
    budget.count(b, 0)
    assert budget.holders == {a: 10} and budget.used == 10


def test_a_full_budget_refuses_the_largest_holder_the_oldest_of_equals():
    budget = BufferBudget(max_bytes=100)
    first, second, third = (Holder(budget, name) for name in ("first", "second", "third"))
    budget.count(first, 40)
    budget.count(second, 40)
    budget.count(third, 20)
    newcomer = Holder(budget, "newcomer")
    assert budget.make_room(newcomer, 10)
    assert first.refusals == [TOO_MUCH_UNFINISHED] and second.refusals == []
    assert budget.holders == {second: 40, third: 20} and budget.used == 60


def test_the_asker_is_refused_when_it_would_hold_the_most_and_nobody_else_is():
    budget = BufferBudget(max_bytes=100)
    small, big = Holder(budget, "small"), Holder(budget, "big")
    budget.count(small, 30)
    budget.count(big, 60)
    assert not budget.make_room(big, 20)  # it would hold 80, more than anyone
    assert small.refusals == [] and budget.used == 90
    assert not budget.make_room(Holder(budget, "huge"), 200)  # never fits: nobody is evicted
    assert small.refusals == [] and big.refusals == []


def test_a_holder_that_keeps_its_bytes_when_refused_cannot_make_room_loop_forever():
    budget = BufferBudget(max_bytes=100)

    class Stubborn(Holder):
        def frame_error(self, problem: str) -> None:
            if self.refusals:
                raise AssertionError("refused twice: make_room would loop for ever")
            self.refusals.append(problem)  # and forgets to give its share back

    stubborn = Stubborn(budget, "stubborn")
    budget.count(stubborn, 90)
    assert budget.make_room(Holder(budget, "newcomer"), 20)
    assert stubborn.refusals == [TOO_MUCH_UNFINISHED] and budget.used == 0
