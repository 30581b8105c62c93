"""One error hierarchy for seedgen.

User errors (bad input, bad options, missing extras) are printed by the CLI as one line and exit 2;
provider errors say which endpoint failed and why. Nothing else should escape the library as a bare
exception for a condition a user can cause.
"""

from __future__ import annotations


class SeedgenError(Exception):
    """Root of every error seedgen raises on purpose."""

    #: a short hint printed after the message: how to fix it
    fix: str | None = None

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def one_line(self) -> str:
        msg = " ".join(str(self).split())
        return f"{msg} (fix: {self.fix})" if self.fix else msg


class UserInputError(SeedgenError):
    """Bad data, options or files given by the user: exit 2, no traceback."""


class MissingDependencyError(UserInputError):
    """An optional extra is not installed; the message names the pip command."""


class ConfigError(UserInputError):
    """A config file (pipeline.toml, seeds.json, options) does not validate."""


class RuleError(UserInputError):
    """A rule or rule pack is broken (bad plug-in file, duplicate code, unknown name)."""


class ProviderError(SeedgenError):
    """An LLM endpoint failed after retries, or answered something unusable."""

    def __init__(self, message: str, *, provider: str = "", model: str = "", fix: str | None = None):
        super().__init__(message, fix=fix)
        self.provider = provider
        self.model = model


class ProviderHTTPError(ProviderError):
    """An endpoint answered with an HTTP error status; retryable ones carry Retry-After."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        provider: str = "",
        model: str = "",
        fix: str | None = None,
    ):
        super().__init__(message, provider=provider, model=model, fix=fix)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status in (408, 409, 425, 429) or self.status >= 500


class FilterFailures(SeedgenError):
    """Raised in strict (non-lazy) filtering with the collected failures."""

    def __init__(self, message: str, failures=None):
        super().__init__(message)
        self.failures = failures
