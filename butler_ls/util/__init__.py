"""Small shared utilities: the settings engine, paths, logging, crash-safe writes, errors
and process helpers."""
