"""Butler: a voice-and-notes assistant that lives inside your editor.

The package holds the language server core; features live in plugins.
"""

__version__ = "0.1.0"
