"""The version of nanaudit: a leaf module (no imports), so that every module that states the
version (reports, shards, the cache key) reads it without importing the package's face."""

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)
