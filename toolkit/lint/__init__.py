"""The lint stage: ruff, ruff format, mypy and buf lint, recorded in reports/lint.json."""
