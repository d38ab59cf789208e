"""Root conftest: plugins the project's own tests need (pytester must be enabled here)."""

pytest_plugins = ["pytester"]
