"""The one audio format inside Butler: 16 kHz mono 16-bit samples, what Whisper models take.

Microphones, spooled utterances, recordings and decoded files all meet at this rate.
"""

SAMPLE_RATE = 16000
"""Samples per second."""
