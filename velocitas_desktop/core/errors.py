"""The exceptions Velocitas raises for a trader's mistakes; each message says what to fix."""


class VelocitasError(Exception):
    """Base class of errors whose message is meant for the user."""


class ParameterError(VelocitasError, ValueError):
    """A strategy parameter value is invalid (type, bounds or a relation between parameters)."""


class StrategyDefinitionError(VelocitasError):
    """A strategy class declares something invalid (bad parameter declaration, no name...)."""


class UnknownStrategyError(VelocitasError, KeyError):
    """No strategy with that name is in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown strategy"


class UsageError(VelocitasError):
    """The program cannot run as it was asked to (a bad argument, a journal it cannot open).

    The command line prints it as one line and exits with code 2; the window says it before
    it opens."""
