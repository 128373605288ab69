"""The model factory: every family builds an sklearn Pipeline, logged and served alike."""

from .{{ cookiecutter.model_family }}_family import (
    REQUIREMENTS,
    TRUSTED_TYPES,
    build_model,
    device_for,
    fit,
    for_serving,
)

__all__ = ["REQUIREMENTS", "TRUSTED_TYPES", "build_model", "device_for", "fit", "for_serving"]
