"""The open documents' words for dictation: identifiers and names found, spoken identifiers
written as the code spells them, hotwords ranked and bounded, and the casing commands."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import load_plugin_module
from tests.unit.test_voice_session import Editor, feed, finish, make_session

ids = load_plugin_module("voice_input", "identifiers")
voice_commands = load_plugin_module("voice_input", "voice_commands")
interpret, join, rules_for = voice_commands.interpret, voice_commands.join, voice_commands.rules_for
EN = rules_for("en")

CODE = """\
MAX_RETRY_COUNT = 3
DEFAULT_PAGE_SIZE = 50


class HTTPServer:
    def getUserById(self, user_id):
        request_timeout = self.max_retry_count
        return parse_config_file(user_id)
"""


def names_of(text: str, code: bool = True) -> list[str]:
    return [word.name for word in ids.Scanner().scan(text, code)]


def matcher(text: str = CODE, line: int = 0) -> object:
    words = ids.Scanner().scan(text, True)
    return ids.Matcher(sorted(words, key=lambda w: w.distance(line)))


def say(transcript: str, names=None, rules=EN) -> str:
    """What dictating ``transcript`` at the start of a line writes."""
    piece = interpret(transcript, rules, names=names)
    return join("", piece.text, exact_start=piece.exact_start)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("getUserById", ("get", "user", "by", "id")),
        ("HTTPServer", ("http", "server")),
        ("MAX_RETRY_COUNT", ("max", "retry", "count")),
        ("parse_config_file", ("parse", "config", "file")),
        ("my-item-name", ("my", "item", "name")),
        ("parseHTTP2Response", ("parse", "http", "2", "response")),
        ("x", ("x",)),
    ],
)
def test_an_identifier_is_split_into_its_spoken_words(name, words):
    assert ids.spoken_words(name) == words


def test_code_gives_its_compound_identifiers_with_their_lines():
    words = {w.name: w for w in ids.Scanner().scan(CODE, True)}
    assert list(words) == [
        "MAX_RETRY_COUNT",
        "DEFAULT_PAGE_SIZE",
        "HTTPServer",
        "getUserById",
        "user_id",
        "request_timeout",
        "max_retry_count",
        "parse_config_file",
    ]  # not "self", "class", "def", "x": one word is no identifier worth a hotword
    assert words["user_id"].lines == (5, 7)
    assert words["HTTPServer"].hotword == "HTTP server"
    assert words["MAX_RETRY_COUNT"].hotword == "max retry count"
    assert names_of("a = my-item-name + b") == ["my-item-name"]


def test_prose_gives_proper_names_not_sentence_starts():
    text = (
        "# Trip to Lisbon\n\nWe met Anneliese and John Dashwood. The house was big.\n"
        "- Monday: call Norland about `getUserById`.\nI'm sure. Then it rained."
    )
    assert names_of(text, code=False) == [
        "Lisbon",
        "Anneliese",
        "John",
        "Dashwood",
        "Norland",
        "getUserById",
    ]


def test_prose_and_code_by_language_id():
    for prose in ("markdown", "plaintext", "git-commit", "latex", None, ""):
        assert not ids.is_code(prose)
    for code in ("python", "typescript", "rust", "yaml"):
        assert ids.is_code(code)


def test_a_long_document_is_scanned_around_the_cursor_only(monkeypatch):
    monkeypatch.setattr(ids, "MAX_SCAN_CHARS", 2000)
    text = "".join(f"name_{n:04d}_x = 1\n" for n in range(1000))
    words = ids.Scanner().scan(text, True, cursor=700)
    lines = [w.lines[0] for w in words]
    assert len(lines) < 200 and min(lines) > 550 and max(lines) < 850


def test_the_scan_remembers_lines_it_has_read(monkeypatch):
    scanner = ids.Scanner()
    scanner.scan(CODE, True)
    calls = []
    original = ids._line_names
    monkeypatch.setattr(ids, "_line_names", lambda *a: calls.append(a) or original(*a))
    words = scanner.scan(CODE + "new_name = 1\n", True)
    assert len(calls) == 1 and words[-1].name == "new_name"


def test_hotwords_rank_nearest_first_then_other_documents_then_titles():
    target = ids.Scanner().scan(CODE, True)
    other = ids.Scanner().scan("We met Dashwood and Dashwood met Norland.", False)
    ranked = ids.rank(target, 7, [other], ["Sprint planning"], count=100)
    assert set(ranked[:2]) == {"parse config file", "user id"}  # on the cursor's line
    assert ranked[2] == "request timeout"
    assert ranked[-3:] == ["Dashwood", "Norland", "Sprint planning"]
    assert ranked.count("max retry count") == 1  # MAX_RETRY_COUNT and max_retry_count


def test_hotwords_are_bounded_by_count_and_characters():
    target = ids.Scanner().scan(CODE, True)
    assert len(ids.rank(target, 0, [], [], count=3)) == 3
    bounded = ids.rank(target, 0, [], [], count=100, chars=40)
    assert bounded == ["max retry count", "default page size"]
    assert len(", ".join(bounded)) <= 40


def test_a_note_title_is_its_first_heading_without_dates():
    assert ids.note_title("# 2024-06-03 Monday\n\n## Log\n") == ""
    assert ids.note_title("intro\n# Sprint planning with Anneliese, June 3\n") == (
        "Sprint planning with Anneliese,"
    )
    assert ids.note_title("no heading") == ""


@pytest.mark.parametrize(
    ("transcript", "written"),
    [
        ("Call get user by ID with max retry count.", "Call getUserById with MAX_RETRY_COUNT."),
        ("Get user by id.", "getUserById"),  # no capital, no full stop: a name alone
        ("get user by ID, then stop", "getUserById, then stop"),
        ("Get user by I.D.", "getUserById"),
        ("Set the request, timeout to 5.", "Set the request_timeout to 5."),
        ("the request time out", "The request_timeout"),
        ("an HTTP server here", "An HTTPServer here"),
        ("Parse config, file.", "parse_config_file"),
        ("user id. Get", "user_id. Get"),
        ("The user. Id is set.", "The user. Id is set."),  # never across a full stop
        ("get user", "Get user"),  # no identifier says just that
    ],
)
def test_spoken_identifiers_are_written_as_the_code_spells_them(transcript, written):
    assert say(transcript, matcher()) == written


def test_the_longest_run_wins_and_the_nearest_name_on_a_tie():
    code = "user_id = 1\nuser_id_map = {}\nuserIdMap = 2\n"
    assert say("set user id map", matcher(code, line=0)) == "Set user_id_map"
    assert say("set user id map", matcher(code, line=2)) == "Set userIdMap"
    assert say("set user id", matcher(code)) == "Set user_id"


def test_numbers_spelled_or_not():
    code = "retry_2_times = True\n"
    assert say("retry two times", matcher(code)) == "retry_2_times"
    assert say("retry 2 times", matcher(code)) == "retry_2_times"


def test_voice_commands_come_before_identifiers():
    code = "new_line = 1\nget_user = 2\n"
    assert say("get user new line get user", matcher(code)) == "get_user\nget_user"


def test_without_a_matcher_prose_is_left_alone():
    assert say("Call get user by ID with max retry count.") == (
        "Call get user by ID with max retry count."
    )


@pytest.mark.parametrize(
    ("transcript", "written"),
    [
        ("camel case get user by id", "getUserById"),
        ("Camel case, get user by ID.", "getUserById"),
        ("camelcase user name", "userName"),
        ("Camel-case user name", "userName"),
        ("pascal case http server", "HttpServer"),
        ("snake case max retry count", "max_retry_count"),
        ("kebab case my item name", "my-item-name"),
        ("constant case max retry count", "MAX_RETRY_COUNT"),
        ("screaming snake case page size", "PAGE_SIZE"),
        ("snake case retry two times", "retry_2_times"),
        ("set camel case user name, then snake case page size", "Set userName, then page_size"),
        ("camel case user name new line snake case page size", "userName\npage_size"),
        ("Camel case user name. The end.", "userName. The end."),
        ("the value camel case", "The value"),
    ],
)
def test_casing_commands_shape_new_names(transcript, written):
    assert say(transcript) == written


def test_a_name_keeps_its_case_after_a_sentence_and_mid_sentence():
    piece = interpret("camel case user name", EN)
    assert join("Done. ", piece.text, exact_start=piece.exact_start) == "userName"
    piece = interpret("Http server", EN, names=matcher())
    assert join("x = ", piece.text, exact_start=piece.exact_start) == "HTTPServer"


def test_casing_phrases_can_be_overridden_and_are_checked():
    rules = rules_for("en", {"casing": {"chameau": "camel"}})
    assert say("chameau user name", rules=rules) == "userName"
    assert say("camel case user name", rules=rules) == "Camel case user name"
    with pytest.raises(ValueError, match=r"casing\.x: expected one of"):
        rules_for("en", {"casing": {"x": "wavy"}})
    with pytest.raises(ValueError, match="casing: expected a mapping"):
        rules_for("en", {"casing": ["camel case"]})


# --- in a session -----------------------------------------------------------------------------


def run_session(tmp_path, text: str, language_id: str | None, transcript: str, seconds=3.0):
    """Dictate one utterance heard as ``transcript`` at the end of ``text``."""
    editor = Editor(text)
    editor.document.language_id = language_id

    async def go():
        session, _, _ = make_session(tmp_path, editor, {0: (0.01, transcript)})
        await session.start()
        await asyncio.to_thread(feed, session, 0, seconds)
        await finish(session)
        return session.requests[0]

    request = asyncio.run(go())
    return editor.document.source, request


def test_a_python_document_gets_its_identifiers_and_its_names_as_hotwords(tmp_path):
    source, request = run_session(tmp_path, CODE, "python", "Call get user by ID.")
    assert source.endswith("Call getUserById.")
    assert "get user by id" in request.vocabulary and "HTTP server" in request.vocabulary
    assert len(request.vocabulary) <= 10  # voice_input.maxHotwords
    assert request.vocabulary[-1].endswith(".")  # the model must not go on with the list


def test_a_markdown_document_stays_prose_with_hotwords_all_the_same(tmp_path):
    source, request = run_session(tmp_path, CODE, "markdown", "Call get user by ID.")
    assert source.endswith("Call get user by ID.")
    assert "get user by id" in request.vocabulary


def dictate_twice(tmp_path, text: str, language_id: str, first: str):
    """Two utterances, the second started once the first is in: the second's request."""
    editor = Editor(text)
    editor.document.language_id = language_id

    async def go():
        session, _, _ = make_session(tmp_path, editor, {0: (0.0, first), 1: (0.0, "Done.")})
        await session.start()
        await asyncio.to_thread(feed, session, 0)
        for _ in range(200):
            if first in editor.document.source:
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(feed, session, 1)
        await finish(session)
        return session.requests[1]

    return asyncio.run(go())


def test_names_dictation_wrote_into_prose_are_not_sent_back_as_hotwords(tmp_path):
    # "Dashwood" was typed by the user: a hotword; "Elinor" came from the model: not one.
    request = dictate_twice(tmp_path, "Met Dashwood today.", "markdown", "Then Elinor came.")
    assert "Dashwood." in request.vocabulary or "Dashwood" in request.vocabulary
    assert not any("Elinor" in word for word in request.vocabulary)


def test_identifiers_dictation_wrote_into_code_stay_hotwords(tmp_path):
    request = dictate_twice(tmp_path, CODE, "python", "Call get user by ID.")
    assert "get user by id" in request.vocabulary


def test_the_dictated_words_of_fifty_documents_are_remembered():
    dictated = ids.DictatedWords()
    for n in range(60):
        dictated.wrote(f"file:///{n}.md", "Then Elinor came.")
    assert len(dictated) == 50 and "file:///0.md" not in dictated
    assert dictated["file:///59.md"] == {"then", "elinor", "came"}


def test_the_hotwords_end_with_a_full_stop():
    assert ids.closed(["a b", "c d"]) == ["a b", "c d."]
    assert ids.closed(["c d."]) == ["c d."] and ids.closed([]) == []


def test_the_hotwords_are_the_commands_and_the_words_for_a_short_utterance(tmp_path):
    _, request = run_session(tmp_path, CODE, "python", "Scratch that.", seconds=1.0)
    vocabulary = request.vocabulary
    assert vocabulary[0] == "scratch that" and "camel case" in vocabulary
    assert "get user by id" in vocabulary
