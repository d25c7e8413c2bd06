"""Built-in plugin ``voice_input``: microphone capture for dictation."""
