"""The server's Prometheus metrics, under vLLM's names where one exists, so dashboards carry over."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from serving.adapters import AdapterRegistry
from serving.engine import Engine


class Metrics:
    """Prometheus metrics under vLLM's names where one exists, so dashboards carry over."""

    def __init__(self, engine: Engine, registry: AdapterRegistry):
        self.registry = CollectorRegistry()
        r = self.registry
        Gauge("vllm:num_requests_running", "Requests in the running batch", registry=r).set_function(
            lambda: engine.counts()[0])
        Gauge("vllm:num_requests_waiting", "Requests waiting for a batch slot", registry=r).set_function(
            lambda: engine.counts()[1])
        Gauge("docsbot_serving_loras_resident", "Adapters in batch slots", registry=r).set_function(
            lambda: len(engine.resident_adapters()))
        Gauge("docsbot_serving_loras_cpu", "Adapters loaded in memory (LRU)", registry=r).set_function(
            lambda: len(registry.cached_names()))
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Prompt tokens processed", registry=r)
        self.prefix_cache_queries = Counter("vllm:prefix_cache_queries", "Prompt tokens looked up in the prefix cache",
                                            registry=r)
        self.prefix_cache_hits = Counter("vllm:prefix_cache_hits", "Prompt tokens whose KV the prefix cache held",
                                         registry=r)
        self.generation_tokens = Counter("vllm:generation_tokens", "Tokens generated", registry=r)
        self.requests = Counter("vllm:request_success", "Finished requests", ["finished_reason"], registry=r)
        self.errors = Counter("docsbot_serving_request_errors", "Requests answered with an error", ["status"],
                              registry=r)
        self.latency = Histogram("vllm:e2e_request_latency_seconds", "Request latency", registry=r,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token", registry=r,
                              buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.adapter_loads = Counter("docsbot_serving_adapter_loads", "Adapter loads", ["outcome"], registry=r)
