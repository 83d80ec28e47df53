"""The pure analysis engine.

Nothing in this package may import Django or any web-side module: an import-linter
contract in pyproject.toml enforces it, so the engine can run on Spark executors and in
batch jobs without a configured Django project.
"""
