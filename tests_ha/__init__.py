"""Home Assistant integration tests (run by script/test-ha in .venv-ha)."""
