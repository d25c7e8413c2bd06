"""Built-in plugin ``transcriber``: speech to text."""
