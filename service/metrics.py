"""Prometheus metrics, one registry per app (no global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import DeliveryState, JobStatus

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


class _QueueCollector(Collector):
    """Reads queue depth, jobs by state and deliveries by state from the database at scrape time."""

    def __init__(self, counts: Callable[[], dict[str, int]], deliveries: Callable[[], dict[str, int]]):
        self.counts = counts
        self.deliveries = deliveries

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.counts()
        depth = GaugeMetricFamily("cutout_queue_depth", "Jobs queued or running")
        depth.add_metric([], counts.get(JobStatus.QUEUED, 0) + counts.get(JobStatus.RUNNING, 0))
        yield depth
        by_state = GaugeMetricFamily("cutout_jobs", "Jobs by state", labels=["state"])
        for state in JobStatus:
            by_state.add_metric([state.value], counts.get(state, 0))
        yield by_state
        deliveries = self.deliveries()
        by_delivery_state = GaugeMetricFamily(
            "cutout_webhook_deliveries", "Webhook deliveries by state", labels=["state"]
        )
        for delivery_state in DeliveryState:
            by_delivery_state.add_metric([delivery_state.value], deliveries.get(delivery_state, 0))
        yield by_delivery_state


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http = Histogram(
            "cutout_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.job = Histogram(
            "cutout_job_duration_seconds", "Job run time, from claim to result", ["outcome"],
            buckets=JOB_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.model = Histogram(
            "cutout_model_duration_seconds", "Segmentation model time per image",
            buckets=JOB_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.jobs_finished = Counter(
            "cutout_jobs_finished", "Job runs by outcome", ["outcome"], registry=self.registry
        )
        self.delivery_attempts = Counter(
            "cutout_webhook_attempts", "Webhook delivery attempts by outcome", ["outcome"], registry=self.registry
        )

    def watch_queue(self, jobs: Callable[[], dict[str, int]], deliveries: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_QueueCollector(jobs, deliveries))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.labels(method, route, str(status)).observe(seconds)

    def observe_job(self, outcome: str, seconds: float) -> None:
        self.job.labels(outcome).observe(seconds)
        self.jobs_finished.labels(outcome).inc()

    def observe_delivery(self, outcome: str) -> None:
        self.delivery_attempts.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
