"""The model factory: every family builds an sklearn Pipeline, logged and served alike."""

from .{{ cookiecutter.model_family }}_family import REQUIREMENTS, build_model, device_for, for_serving

__all__ = ["REQUIREMENTS", "build_model", "device_for", "for_serving"]
