"""Example plugin ``word_count`` (see docs/plugins.md)."""
