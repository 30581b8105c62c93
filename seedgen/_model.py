"""Base pydantic model for every config and file format: unknown keys are errors, not silence."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from seedgen.errors import ConfigError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def validation_message(err: ValidationError, where: str) -> str:
    """Render a pydantic error as `where: loc: msg; ...` — one line a user can act on."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(root)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}")
    return f"{where}: " + "; ".join(parts[:5]) + (f" (+{len(parts) - 5} more)" if len(parts) > 5 else "")


def parse_model(model: type[BaseModel], data, where: str):
    """Validate `data` into `model`, turning pydantic errors into a one-line ConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(validation_message(e, where)) from e
