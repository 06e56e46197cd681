"""The one exception family of convinspect; each class carries its exit code."""

from __future__ import annotations

from convinspect.core.vocab.text import inert, unstyled

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID = 2
EXIT_BACKEND = 3


class ConvinspectError(Exception):
    """Base class: a message meant for the user and the exit code it maps to."""

    exit_code = EXIT_INVALID

    def __init__(self, problem: str, option: str | None = None, rule: str | None = None) -> None:
        # Keras messages can span lines and carry ANSI styling; the user gets one plain line.
        problem = " ".join(unstyled(str(problem)).split())
        # Keras quotes whole inputs back; one line stays one readable line.
        self.problem = inert(problem if len(problem) <= 1000 else problem[:997] + "...")
        self.option = option
        self.rule = rule  # a short code for the Keras/TensorFlow rule broken, e.g. "groups_channels"
        super().__init__(self.message())

    def __reduce__(self) -> tuple[type[ConvinspectError], tuple[str, str | None, str | None]]:
        # Rebuilt from its parts (a worker process sends it back to the parent): the same message.
        return type(self), (self.problem, self.option, self.rule)

    def message(self, prefix: str = "--") -> str:
        """The one-line message; `prefix` decorates the option name."""
        if self.option is None:
            return self.problem
        return f"{prefix}{self.option.replace('_', '-') if prefix == '--' else self.option}: {self.problem}"


class InvalidInput(ConvinspectError, ValueError):
    """A bad option value, spec entry or a layer config that Keras rejects (exit 2)."""

    exit_code = EXIT_INVALID


class OutputError(ConvinspectError):
    """The result cannot be delivered: stdout closed or full, an --output file that cannot be written (exit 2)."""

    exit_code = EXIT_INVALID


class BackendError(ConvinspectError, RuntimeError):
    """TensorFlow/Keras is missing or failed, or the engines disagree (exit 3)."""

    exit_code = EXIT_BACKEND


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while a file was being written. Like KeyboardInterrupt it is no
    Exception, so no guard around the user's code (a builder) takes it for that code's failure:
    the process dies of the signal, the file untouched."""
