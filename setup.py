"""Classic entry point for ``pip install -e .``; everything lives in pyproject.toml."""

from setuptools import setup

setup()
