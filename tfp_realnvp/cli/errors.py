"""The two ways a command fails: bad arguments (exit status 2) or a failed run (status 1)."""


class UsageError(Exception):
    """An argument the command cannot use; printed as `tfp-realnvp CMD: error: ...`, status 2."""


class TrainingFailed(Exception):
    """Training stopped (NaN or infinite loss); printed as an error line, exit status 1."""
