"""Turning validation failures into one sentence a user can act on."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from studio.ground.errors import StudioError


def _field(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not isinstance(p, int)) or "request"


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error message never repeats a 10 MB input."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit + 20 else text[:limit] + "..."


def explain(exc: ValidationError, *, model: type[BaseModel] | None = None, owner: str = "") -> str:
    """'`steps` must be <= 100, got 500' style lines, joined with '; '."""
    parts = []
    for err in exc.errors(include_url=False):
        name = _field(err["loc"])
        kind = err["type"]
        got = err.get("input")
        ctx = err.get("ctx") or {}
        if kind == "extra_forbidden":
            known = ", ".join(model.model_fields) if model is not None else ""
            where = f" for {owner}" if owner else ""
            word = "option" if owner else "field"
            parts.append(f"unknown {word} `{name}`{where}" + (f"; known {word}s: {known}" if known else ""))
        elif kind.startswith(("less_than", "greater_than", "finite")) and isinstance(got, float) and got != got:
            parts.append(f"`{name}` must be a number, got NaN")  # NaN fails every bound: "<= 5" would mislead
        elif kind in ("less_than_equal", "less_than"):
            parts.append(f"`{name}` must be <= {ctx.get('le', ctx.get('lt'))}, got {shown(got)}")
        elif kind in ("greater_than_equal", "greater_than"):
            parts.append(f"`{name}` must be >= {ctx.get('ge', ctx.get('gt'))}, got {shown(got)}")
        elif kind == "string_too_long":
            parts.append(
                f"`{name}` must be at most {ctx.get('max_length')} characters, got {len(got)}; shorten it"
                if isinstance(got, str) else f"`{name}` is too long"
            )
        elif kind == "value_error":
            parts.append(str(ctx.get("error", err["msg"]))[:300])
        else:
            parts.append(f"`{name}`: {err['msg'].lower()}, got {shown(got)}")
    return "; ".join(parts)


def validate(model: type[BaseModel], data: object, *, owner: str = "") -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StudioError(explain(exc, model=model, owner=owner) + ".") from None
