"""Helpers shared by test packages (uvicorn in a thread, example loaders)."""
