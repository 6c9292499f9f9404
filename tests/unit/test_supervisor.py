"""`cavra up`'s restart loop: what died is started again after a growing delay, a failed start is retried."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cavra_cli import supervisor
from cavra_runtime.embedded import EmbeddedServerError


@dataclass
class Fake:
    """A supervised thing that is dead until started; its first ``failures`` starts fail."""

    failures: int = 0
    alive: bool = False
    starts: int = 0
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    name: str = "fake"

    def exit_code(self) -> int | None:
        return None if self.alive else -9

    def start(self) -> None:
        self.starts += 1
        self.started_at = time.monotonic()
        if self.starts <= self.failures:
            raise EmbeddedServerError("lock file already exists")
        self.alive = True


def due(item: Fake) -> None:
    item.next_start = time.monotonic() - 0.01


def test_a_dead_process_is_started_again_after_a_short_delay() -> None:
    item = Fake(started_at=time.monotonic())
    supervisor._restart_dead([item])
    assert item.starts == 0 and item.next_start > time.monotonic()  # noted, not yet started
    due(item)
    supervisor._restart_dead([item])
    assert item.alive and item.starts == 1 and item.restarts == 1


def test_a_failed_start_is_retried_later_with_a_longer_delay() -> None:
    item = Fake(failures=1, started_at=time.monotonic())
    supervisor._restart_dead([item])
    first_delay = item.next_start - time.monotonic()
    due(item)
    supervisor._restart_dead([item])  # the start raises: reported, not propagated
    assert not item.alive and item.starts == 1
    supervisor._restart_dead([item])
    assert item.next_start - time.monotonic() > first_delay
    due(item)
    supervisor._restart_dead([item])
    assert item.alive and item.starts == 2


def test_something_that_ran_for_a_while_restarts_with_the_short_delay_again() -> None:
    item = Fake(restarts=6, started_at=time.monotonic() - supervisor.STABLE_AFTER - 1)
    supervisor._restart_dead([item])
    assert item.restarts == 0 and item.next_start - time.monotonic() <= 0.5
