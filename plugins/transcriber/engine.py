"""The transcription engine: faster-whisper, loaded once per worker and kept warm.

Used by the worker's ``transcribe`` job and by ``butler-ls transcribe``; segments
stream out as they are decoded, and a cancel flag is checked between segments.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from butler_ls.job_api import SAMPLE_RATE, ButlerError

from .languages import SWITCH_PROBABILITY, WHISPER_LANGUAGES, choose_language
from .models import ModelError, ModelSpec
from .subtitles import Segment

logger = logging.getLogger(__name__)

PROMPT_WORDS = 40  # previous text given as context: enough for continuity, too little to take over
DEFAULT_BEAM = 5
WINDOW_SECONDS = 300.0  # a long file is transcribed 5 minutes at a time...
CUT_SEARCH_SECONDS = 15.0  # ...cut at the quietest 100 ms of each window's last 15 s


def windows(
    chunks: Iterable[Any],
    *,
    window_seconds: float = WINDOW_SECONDS,
    search_seconds: float = CUT_SEARCH_SECONDS,
) -> Iterator[tuple[float, Any]]:
    """Regroup decoded chunks into ``(offset, audio)`` windows cut at quiet moments."""
    import numpy as np

    limit = int(window_seconds * SAMPLE_RATE)
    search = int(search_seconds * SAMPLE_RATE)
    pending: list[Any] = []
    buffered = 0
    offset = 0
    for chunk in chunks:
        pending.append(chunk)
        buffered += len(chunk)
        while buffered >= limit:
            audio = np.concatenate(pending)
            cut = _quietest(audio, limit - search, limit)
            yield offset / SAMPLE_RATE, audio[:cut]
            offset += cut
            pending, buffered = [audio[cut:]], len(audio) - cut
    if buffered:
        yield offset / SAMPLE_RATE, np.concatenate(pending)


def _quietest(audio: Any, start: int, end: int, frame: int = SAMPLE_RATE // 10) -> int:
    """The middle of the quietest ``frame`` between ``start`` and ``end``: no word is cut."""
    import numpy as np

    region = audio[start:end]
    count = len(region) // frame
    if count == 0:
        return end
    energy = np.square(region[: count * frame].reshape(count, frame)).mean(axis=1)
    return start + int(np.argmin(energy)) * frame + frame // 2


FIT_MAX_SECONDS = 25.0
"""Longer pieces are encoded in full 30 s windows (nearly all of one anyway)."""

FIT_MIN_SECONDS = 3.0
"""Shorter pieces too: a voice command alone in a short window was misheard ("Red Coma Green
Coma Blue Period", "new paragraph, new paragraph", eSpeak's French "nouvelle ligne" as
"Nouvelle-Lie"), right in 30 s; dictated sentences are longer, and gain the most."""

FIT_MARGIN_FRAMES = 100
"""Frames (10 ms each) of padding the encoder reads after a fitted piece. Measured on the
English recordings (benchmarks/encoder_window.py): with 100 both models keep their word
error rate; with 50 or 200 they decode some pieces in a loop ("Go forward 10 meters. Go
forward 10 meters..."), which ``_looped`` catches."""

_FRAME_SAMPLES = 160
_FULL_FRAMES = 3000

FIT_SILENCE_SECONDS = 1.0
"""Silence added after a fitted piece, as audio: the encoder then sees the end of speech as
Whisper saw it in training (faster-whisper pads the 30 s window with zero features, which
are not silence); loops halved (benchmarks/encoder_window.py)."""


def _silence_after(audio: Any) -> Any:
    import numpy as np

    silence = np.zeros(int(FIT_SILENCE_SECONDS * SAMPLE_RATE), dtype=audio.dtype)
    return np.concatenate([audio, silence])


def _fitted(model: Any, samples: int) -> Any:
    """``model`` (faster-whisper's) encoding only ``samples`` of audio and the margin: the
    encoder's cost follows its input (30 s is what faster-whisper always gives it)."""
    keep = min(_FULL_FRAMES, samples // _FRAME_SAMPLES + 1 + FIT_MARGIN_FRAMES)
    encode = model.encode
    fitted = copy.copy(model)
    fitted.encode = lambda features: encode(features[..., :keep])
    return fitted


FIT_TOKENS_PER_SECOND = 10
"""A fitted piece's decoding stops after 20 tokens and this many per second of audio (speech
is 3-4): a loop ends early, and is caught by ``_looped``."""

FIT_WORDS_PER_SECOND = 4.5
"""More words than this per second of a fitted piece is text said twice (speech is 2-3.5)."""


_REPEATED = re.compile(
    r"(\w.{1,40}?)(?:[\s,.;:!?-]*\1){2,}|\b(\w+(?:\W+\w+){2,})\W+\2\b|^(.+?)\W+\3\W*$",
    re.IGNORECASE,
)
"""A piece of text said three times in a row ("n'umègle, n'umègle, n'umègle", "wawwawwaw"),
three words or more twice ("go forward 10 meters, go forward 10 meters"), or the whole text
twice ("new paragraph, new paragraph"): short texts escape faster-whisper's compression
ratio."""


def _looped(pieces: Sequence[Any], seconds: float) -> bool:
    """Whether a fitted decoding went wrong: no text at all (speech the short window lost:
    eSpeak's French "nouvelle ligne" with base), repetitive text (faster-whisper's measure, or
    one chunk thrice), more words than the audio can hold, or a second piece running past the
    audio's end (the first's end may overshoot into the margin: unreliable there). A false
    alarm costs only time: the piece is decoded again in full."""
    text = " ".join(p.text.strip() for p in pieces).strip()
    return (
        not text
        or any(p.compression_ratio > 2.4 for p in pieces)
        or _REPEATED.search(text) is not None
        or len(text.split()) > FIT_WORDS_PER_SECOND * max(seconds, 1.0)
        or any(p.end > seconds + 0.5 for p in pieces[1:])
    )


class Cancelled(ButlerError):
    """The transcription was cancelled; what was decoded so far stands."""


@attrs.frozen
class Options:
    """How to transcribe one piece of audio."""

    language: str | None = None
    """Spoken language code; None detects it (English-only models always use en)."""

    hint: str | None = None
    """When detecting: the language so far (a dictation session's), kept unless the audio
    is detected as another language with at least ``switch_probability``."""

    switch_probability: float = SWITCH_PROBABILITY
    """How sure a detection of another language than ``hint`` must be to be followed."""

    beam_size: int = DEFAULT_BEAM
    """Beam search width (faster-whisper's default, 5)."""

    vad: bool = True
    """Skip non-speech with Silero VAD (also keeps silence from turning into words)."""

    vocabulary: Sequence[str] = ()
    """Words to favour (names, jargon), passed as hotwords."""

    prompt: str = ""
    """Text before this audio, for continuity; only its last words are used."""

    window: str = "fit"
    """``fit``: a piece of FIT_MIN_SECONDS to FIT_MAX_SECONDS is encoded at its own length
    plus silence and a margin, and again in full if that decoding loops; ``full``: 30 s."""

    provisional: bool = False
    """Text to show, not to keep: with ``fit``, pieces under FIT_MIN_SECONDS are fitted
    too, and a decoding that loops gives no text instead of being redone in full."""


@attrs.frozen
class Transcript:
    """The result of one transcription."""

    segments: list[Segment]
    language: str
    """The language transcribed in (given, detected, or the hint an unsure detection kept)."""
    duration: float
    detected: str = ""
    """What detection heard first ("" when the language was given)."""
    probability: float | None = None
    """How sure that detection was (None when the language was given)."""

    @property
    def text(self) -> str:
        """The segments' text joined with spaces."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


def choose_device(device: str, compute_type: str) -> tuple[str, str]:
    """``auto`` picks CUDA when a GPU is present, else the CPU; int8 on CPU, float16 on CUDA."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


class Engine:
    """Loaded models, by (path, device, compute type, threads), kept for the next task."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str, str, int], Any] = {}
        self._lock = threading.Lock()
        self.load_seconds: dict[str, float] = {}

    def loaded(self) -> list[str]:
        """Names of the models in memory."""
        return sorted(self.load_seconds)

    def model(
        self,
        spec: ModelSpec,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        threads: int = 0,
        on_loading: Callable[[], None] | None = None,
        any_threads: bool = False,
    ) -> Any:
        """The WhisperModel for ``spec``, loading it on first use.

        With ``any_threads`` a copy already loaded with another thread count will do: an
        interactive job must not wait a second for a load just to use fewer threads.
        """
        device, compute_type = choose_device(device, compute_type)
        key = (str(spec.path), device, compute_type, threads)
        with self._lock:
            if key in self._models:
                return self._models[key]
            if any_threads:
                for other, model in self._models.items():
                    if other[:3] == key[:3]:
                        return model
            if on_loading is not None:
                on_loading()
            from faster_whisper import WhisperModel

            started = time.perf_counter()
            try:
                model = _on_short_lived_thread(
                    lambda: WhisperModel(
                        str(spec.path),
                        device=device,
                        compute_type=compute_type,
                        cpu_threads=threads,
                        local_files_only=True,
                    )
                )
            except Exception as exc:
                raise ModelError(
                    f"cannot load the model at {spec.path} on {device} with compute type "
                    f"{compute_type} ({type(exc).__name__}: {exc}); check model.device and "
                    f"model.computeType (auto picks what this machine supports), otherwise the "
                    f"files may be corrupt: reinstall or replace them"
                ) from None
            self.load_seconds[spec.name] = time.perf_counter() - started
            logger.info(
                "loaded model %s (%s, %s, %d threads) in %.2f s",
                spec.name,
                device,
                compute_type,
                threads,
                self.load_seconds[spec.name],
            )
            self._models[key] = model
            return model

    def transcribe(
        self,
        audio: Any,
        model: Any,
        options: Options,
        *,
        on_segment: Callable[[Segment, float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 ``audio``; ``on_segment(segment, duration)`` streams."""
        duration = len(audio) / SAMPLE_RATE
        return self.transcribe_windows(
            [(0.0, audio)],
            model,
            options,
            duration=duration,
            on_segment=on_segment,
            cancelled=cancelled,
        )

    def transcribe_windows(
        self,
        windows: Iterable[tuple[float, Any]],
        model: Any,
        options: Options,
        *,
        duration: float | None,
        on_segment: Callable[[Segment, float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Transcript:
        """Transcribe ``(offset, audio)`` windows in order as one recording.

        Memory follows the window, not the file: faster-whisper computes features for
        all the audio it is given (a whole hour peaked at 4 GB; in 5-minute windows the
        process stays under 0.75 GB). The price is a fresh start at each window edge.
        """
        language = options.language
        if not model.model.is_multilingual:
            language = "en"
        detector = None
        hint = options.hint if options.hint in WHISPER_LANGUAGES else None
        if language is None:
            # multilingual=True detects the language on the encoder output the decoding uses
            # anyway (one decoder step); language=None would encode the audio a second time
            # first (measured with base: twice the encoder's cost, see benchmarks/languages.py).
            detector = _Detector(model.model, hint, options.switch_probability)
            model = copy.copy(model)
            model.model = detector
        hotwords = ", ".join(w for w in options.vocabulary if w.strip()) or None
        segments: list[Segment] = []
        heard: dict[str, float] = {}  # seconds of speech per language, for a file's answer
        seen = 0.0
        for offset, audio in windows:
            seen = offset + len(audio) / SAMPLE_RATE
            if len(audio) == 0:
                continue
            # Only the caller's context: carrying the previous window's text as the prompt
            # made the model skip speech (measured: 39% WER against 18% without, on 100 s
            # windows of a reading), so each window starts fresh.
            prompt = " ".join(options.prompt.split()[-PROMPT_WORDS:]) or None

            # Called at once; the defaults bind this window's audio and prompt all the same.
            def decode(
                model: Any, audio: Any = audio, prompt: str | None = prompt, **fitted: Any
            ) -> Any:
                pieces, _ = model.transcribe(
                    audio,
                    # When detecting, this is only the language of the first prompt: the
                    # detector's choice replaces it before each 30 s is decoded.
                    language=language or (detector.current if detector else None) or "en",
                    multilingual=detector is not None,
                    beam_size=options.beam_size,
                    vad_filter=options.vad,
                    initial_prompt=prompt,
                    hotwords=hotwords,
                    **fitted,
                )
                return pieces

            seconds = len(audio) / SAMPLE_RATE
            short_ok = options.provisional or seconds >= FIT_MIN_SECONDS
            if options.window == "fit" and short_ok and seconds <= FIT_MAX_SECONDS:
                before = (detector.current, detector.first) if detector else None
                # One temperature and a bound on tokens: a loop costs one short decoding
                # (with faster-whisper's fallback, 2.8 s went into six on tiny.en), then
                # the piece is decoded in full, fallback and all.
                limit = int(20 + FIT_TOKENS_PER_SECOND * seconds)
                padded = _silence_after(audio)
                fitted = _fitted(model, len(padded))
                pieces = list(decode(fitted, padded, temperature=0.0, max_new_tokens=limit))
                looped = _looped(pieces, seconds)
                if looped and options.provisional:
                    pieces = []  # shown for a moment only: not worth a full decoding
                elif looped:
                    logger.debug("fitted window looped on %.1f s: decoding it in full", seconds)
                    if detector is not None and before is not None:  # as if not decoded
                        detector.current, detector.first = before
                    pieces = list(decode(model))
            else:
                pieces = decode(model)
            total = max(duration or 0.0, seen)
            for piece in pieces:
                segment = Segment(
                    start=offset + piece.start, end=offset + piece.end, text=piece.text.strip()
                )
                segments.append(segment)
                if detector is not None and detector.current:
                    heard[detector.current] = heard.get(detector.current, 0.0) + piece.end
                    heard[detector.current] -= piece.start
                if on_segment is not None:
                    on_segment(segment, total)
                if cancelled is not None and cancelled():
                    raise Cancelled(f"cancelled after {segment.end:.1f} s of {total:.1f} s")
        # What was decoded, not what the header promised (a cut-off file says more).
        if detector is None:
            return Transcript(segments, language or "en", seen)
        spoken = max(heard, key=heard.__getitem__, default=detector.current)
        return Transcript(
            segments,
            spoken or "en",
            seen,
            detected=detector.first[0] if detector.first else "",
            probability=detector.first[1] if detector.first else None,
        )


class _Detector:
    """The CTranslate2 model as faster-whisper sees it, with ``detect_language`` answering by
    ``choose_language``: each 30 s window is transcribed in the language so far unless it is
    confidently another. One per transcription (the model itself is shared)."""

    def __init__(self, model: Any, hint: str | None, threshold: float) -> None:
        self._model = model
        self._threshold = threshold
        self.current = hint
        self.first: tuple[str, float] | None = None
        """The first window's detection as heard: (language, probability)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def detect_language(self, encoder_output: Any) -> list[list[tuple[str, float]]]:
        """The model's ranking per item, the chosen language moved first."""
        results = self._model.detect_language(encoder_output)
        ranking = list(results[0])
        token, probability = ranking[0]
        heard = token[2:-2]
        if self.first is None:
            self.first = (heard, probability)
        self.current = choose_language(self.current, heard, probability, self._threshold)
        if self.current != heard:
            chosen = f"<|{self.current}|>"
            ranking.sort(key=lambda item: item[0] != chosen)
        return [ranking, *results[1:]]


def _on_short_lived_thread(make: Callable[[], Any]) -> Any:
    """Build a model on a thread that ends right after.

    The thread that loads a CTranslate2 model keeps an OpenMP pool alive; while it
    lives, OpenMP counts more threads than CPUs and its compute threads sleep at every
    sync point. Measured on 2 cores: 2.8 s instead of 1.15 s for a 53 s file.
    """
    outcome: dict[str, Any] = {}

    def build() -> None:
        try:
            outcome["model"] = make()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=build, name="load-model")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["model"]


ENGINE = Engine()
