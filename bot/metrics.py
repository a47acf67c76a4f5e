"""Prometheus metrics for the server and workers, on a registry of their own.

Each app gets its own :class:`Metrics` (no process-global registry), so tests and
benchmarks can run several servers in one process. ``/metrics`` renders it in the
Prometheus text format with the official client library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class _QueueDepth(Collector):
    def __init__(self, depth: Callable[[], dict[str, int]]) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "agentforge_queue_depth", "Jobs in the durable queue by state.", labels=["state"]
        )
        for state, count in self._depth().items():
            family.add_metric([state], count)
        yield family


class _QueueDepthByQueue(Collector):
    def __init__(self, depth: Callable[[], dict[tuple[str, str], int]]) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "agentforge_queue_jobs",
            "Unfinished jobs by queue (light, heavy) and state (queued, running, failed).",
            labels=["queue", "state"],
        )
        for (queue, state), count in sorted(self._depth().items()):
            family.add_metric([queue, state], count)
        yield family


class _ChildProcess(Collector):
    def __init__(self, name: str, up: Callable[[], bool], restarts: Callable[[], int]) -> None:
        self._name, self._up, self._restarts = name, up, restarts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "agentforge_process_up", "1 while a supervised child process runs.", labels=["process"]
        )
        up.add_metric([self._name], 1.0 if self._up() else 0.0)
        yield up
        restarts = GaugeMetricFamily(
            "agentforge_process_restarts",
            "Times the supervisor restarted a child process that died.",
            labels=["process"],
        )
        restarts.add_metric([self._name], float(self._restarts()))
        yield restarts


class Metrics:
    """The server's metrics.

    Attributes:
        deliveries: Webhook deliveries by forge, event and outcome
            (``queued``, ``duplicate``, ``ignored``, ``ping``, ``unauthorized``...).
        ack_seconds: Time from request start to response, by forge.
        job_duration: Job run time by outcome (``done``, ``failed``, ``dead``, ``released``).
        job_failures: Failed job attempts by error class.
    """

    def __init__(self, *, intake: bool = True, jobs: bool = True) -> None:
        """Args:
        intake: Register the webhook metrics (the intake process's).
        jobs: Register the job metrics (the jobs process's).
        """
        self.registry = CollectorRegistry(auto_describe=True)
        if intake:
            self._intake_metrics()
        if jobs:
            self._job_metrics()

    def _intake_metrics(self) -> None:
        self.deliveries = Counter(
            "agentforge_webhook_deliveries",
            "Webhook deliveries received, by forge, event and outcome.",
            ["forge", "event", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "agentforge_webhook_ack_seconds",
            "Seconds from receiving a webhook to acknowledging it.",
            ["forge"],
            buckets=_ACK_BUCKETS,
            registry=self.registry,
        )
        # Labelled children by label values: ``labels()`` checks and locks on every
        # call, a measurable part of a delivery's few hundred microseconds.
        self._delivery_counts: dict[tuple[str, str, str], Any] = {}
        self._ack_times: dict[str, Any] = {}

    def delivery(self, forge: str, event: str, outcome: str) -> None:
        """Count one webhook delivery answered with ``outcome``."""
        key = (forge, event, outcome)
        child = self._delivery_counts.get(key)
        if child is None:
            child = self._delivery_counts[key] = self.deliveries.labels(forge, event, outcome)
        child.inc()

    def acknowledged(self, forge: str, seconds: float) -> None:
        """Record how long answering one webhook delivery took."""
        child = self._ack_times.get(forge)
        if child is None:
            child = self._ack_times[forge] = self.ack_seconds.labels(forge)
        child.observe(seconds)

    def _job_metrics(self) -> None:
        self.job_duration = Histogram(
            "agentforge_job_duration_seconds",
            "Seconds a job attempt ran, by outcome.",
            ["outcome"],
            buckets=_JOB_BUCKETS,
            registry=self.registry,
        )
        self.job_failures = Counter(
            "agentforge_job_failures",
            "Failed job attempts, by error class.",
            ["error"],
            registry=self.registry,
        )

    def watch_process(self, name: str, up: Callable[[], bool], restarts: Callable[[], int]) -> None:
        """Report ``agentforge_process_up`` and ``agentforge_process_restarts`` of a child."""
        self.registry.register(_ChildProcess(name, up, restarts))

    def watch_queue(self, depth: Callable[[], dict[str, int]]) -> None:
        """Report ``agentforge_queue_depth`` from ``depth()`` at every scrape."""
        self.registry.register(_QueueDepth(depth))

    def watch_queues(self, depth: Callable[[], dict[tuple[str, str], int]]) -> None:
        """Report ``agentforge_queue_jobs{queue,state}`` from ``depth()`` at every scrape."""
        self.registry.register(_QueueDepthByQueue(depth))

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
