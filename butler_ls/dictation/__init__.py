"""Live dictation: utterance cutting, the spool, voice commands."""
