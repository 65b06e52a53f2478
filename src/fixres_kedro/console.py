"""What a run prints: the nodes' progress, each epoch's summary, warnings; nothing else.

``conf/logging.yml`` sends every record to ``logs/info.log`` and the readable part to the
``console`` handler, which ``install`` (called by the project's settings) makes:

* in a terminal, Kedro's rich handler (colours, wrapped to the terminal's width);
* piped or redirected, plain lines that never wrap (``2026-11-30 01:02:03 INFO ...``);
* ``ConsoleFilter`` drops Kedro's per-dataset "Loading/Saving data" lines, its
  per-node "Running node"/"Completed node" lines (the project logs one line per node
  instead, ``[3/15] initial.train_model finished in 12.3 s``) and other start-up chatter
  a user can do nothing about. Warnings and errors always pass.
"""

from __future__ import annotations

import logging
import sys

# Logger names whose INFO lines stay in the log file only.
QUIET_LOGGERS = (
    "kedro.io",  # Loading data from ... / Saving data to ...
    "kedro.pipeline.node",  # Running node: ...
    "kedro.runner",  # Completed node / Completed 3 out of 15 tasks / Using synchronous mode ...
    "kedro.framework.project",  # Using 'conf/logging.yml' as logging configuration
    "kedro.framework.session",  # Kedro project fixres_kedro
)


# Warnings of libraries about their own code, which no user of this project can act on.
UNACTIONABLE_WARNINGS = (
    "Add type hints to the `predict` method",  # MLflow, about its own pyfunc wrapper
    "could not be previewed",  # kedro-viz, for every output not written yet
    "ORJSONResponse is deprecated",  # kedro-viz, about FastAPI
    "Workflow tracking is disabled",  # kedro-viz, on every partial or parallel run
    "No nodes ran. Repeat the previous command",  # Kedro, before the error that says why
)


class ConsoleFilter(logging.Filter):
    """Pass warnings and errors (but ``UNACTIONABLE_WARNINGS``), and INFO lines not from
    ``QUIET_LOGGERS``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            message = record.getMessage()
            return not any(text in message for text in UNACTIONABLE_WARNINGS)
        return not record.name.startswith(QUIET_LOGGERS)


def plain_handler(stream: object) -> logging.Handler:
    """Plain ``HH:MM:SS LEVEL message`` lines that never wrap (a pipe, a log file)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    return handler


def install(stream: object = None) -> None:
    """Make the ``console`` handler of ``conf/logging.yml`` the console described above.

    Kedro's logging configuration accepts handler classes from ``logging`` and
    ``kedro.logging`` only, so the project adjusts the handler it made: plain lines when
    the output is not a terminal, and ``ConsoleFilter`` either way. Idempotent.
    """
    stream = stream or sys.stdout
    root = logging.getLogger()
    for index, handler in enumerate(list(root.handlers)):
        if handler.get_name() != "console":
            continue
        if not getattr(stream, "isatty", lambda: False)() and not isinstance(handler, logging.FileHandler):
            plain = plain_handler(stream)
            plain.set_name("console")
            root.handlers[index] = handler = plain
        if not any(isinstance(f, ConsoleFilter) for f in handler.filters):
            handler.addFilter(ConsoleFilter())
        # conf/logging.yml starts the console at WARNING, so that what Kedro logs before the
        # project's settings load stays in the file; from here on INFO lines pass the filter.
        handler.setLevel(logging.INFO)
