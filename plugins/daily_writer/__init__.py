"""Built-in plugin ``daily_writer``: daily notes."""
