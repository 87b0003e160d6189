"""Powertools logging and metrics for the functions, set up once per container.

Core modules log through the stdlib (`logging.getLogger("helpline....")`); each
function's root creates a Powertools Logger and copies its JSON configuration onto
those loggers, so every line carries the service name, and the correlation id where
the event has one that follows it through the system (see `correlate`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

_loggers: dict[str, Any] = {}
_metrics: dict[str, Any] = {}


class StandardStream:
    """sys.stdout or sys.stderr as it is when a line is written, not when the handler
    was made: the `helpline` command and the tests swap them, and the log must follow."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        written: int = getattr(sys, self.name).write(text)
        return written

    def flush(self) -> None:
        getattr(sys, self.name).flush()


STDOUT = StandardStream("stdout")  # Lambda collects a function's standard output
STDERR = StandardStream("stderr")
_stream: Any = STDOUT


def log_to(stream: Any) -> None:
    """Write the functions' log lines to `stream` from now on (STDOUT by default): the
    `helpline` command's standard output is its answer (`--json`), so it sends them to
    STDERR while it runs."""
    global _stream
    _stream = stream
    for each in _loggers.values():
        for handler in each.handlers:
            if isinstance(handler, logging.StreamHandler):
                # not setStream: it flushes the old stream, which may be closed by now
                with handler.lock or contextlib.nullcontext():
                    handler.stream = stream


def logger(service: str) -> Any:
    if service not in _loggers:
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

        powertools_logger = Logger(service=service, stream=_stream)
        for handler in powertools_logger.handlers:
            handler.addFilter(RedactingFilter())
        logging.getLogger("helpline")  # make sure the parent of core loggers is registered
        copy_config_to_registered_loggers(source_logger=powertools_logger, include={"helpline"})
        _loggers[service] = powertools_logger
    return _loggers[service]


def correlate(service: str, correlation_id: str | None) -> None:
    """Tag the log lines that follow (ours and core's) with the id of the event being
    handled: the SES message id of a mail, a stream record's event id. None clears it.

    On Lambda a process runs one function; the local stack runs them all in one, where
    core's loggers write through the last function's handler: every function's logger
    gets the id, so core's lines carry it too."""
    logger(service)
    for each in _loggers.values():
        each.set_correlation_id(correlation_id)


class RedactingFilter(logging.Filter):
    """Email addresses and phone numbers never reach the logs, wherever they come from
    (our messages, an error a provider returned with a customer's address in it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from functions.core.redact import redact_text

        def clean(value: Any) -> Any:
            if isinstance(value, str):
                return redact_text(value)
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return type(value)(clean(v) for v in value)
            return value

        record.msg = clean(record.msg)
        if record.args:
            record.args = clean(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            error.args = tuple(clean(a) for a in error.args)
            record.exc_text = None
        return True


def metrics(service: str, namespace: str = "Helpline") -> Any:
    if service not in _metrics:
        from aws_lambda_powertools import Metrics

        _metrics[service] = Metrics(namespace=namespace, service=service)
    return _metrics[service]


def count(service: str, name: str, value: int = 1, **dimensions: str) -> None:
    """Count something. With dimensions (team, platform...) the metric is written on its
    own EMF line at once: one metric set shares one value per dimension, so metrics
    with different dimension values cannot be batched together."""
    from aws_lambda_powertools.metrics import MetricUnit

    if not dimensions:
        metrics(service).add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    from aws_lambda_powertools.metrics import single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED: the CLI, local tools
        return

    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=metrics(service).namespace,
        default_dimensions={"service": service},
    ) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)


def flush(service: str) -> None:
    """Write the metrics as EMF and start afresh (also when metrics are disabled)."""
    collector = metrics(service)
    if collector.metric_set:
        collector.flush_metrics()
    collector.clear_metrics()
