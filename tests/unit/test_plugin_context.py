"""The plugin context in-process, on a fake server: what a plugin does with the editor."""

from __future__ import annotations

import ast
import asyncio
import io
import itertools
import tokenize
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from butler_ls.host import events
from butler_ls.host.capabilities import CapabilityRegistry
from butler_ls.host.manifest import load_manifest
from butler_ls.lsp.command_table import CommandTable
from butler_ls.plugin_api import EditRefused, PluginContext
from butler_ls.util.config import Settings
from butler_ls.util.paths import Paths

REPO = Path(__file__).resolve().parents[2]
URI = "file:///notes/today.md"


def capabilities(
    *, show_document: bool = True, progress: bool = True, versioned: bool = True
) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(
            work_done_progress=progress,
            show_document=types.ShowDocumentClientCapabilities(support=show_document),
        ),
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=versioned)
        ),
    )


class Tracker:
    """pygls' work-done progress, as far as the context uses it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.tokens: dict[str, asyncio.Future[Any]] = {}

    async def create_async(self, token: str) -> None:
        self.tokens[token] = asyncio.get_running_loop().create_future()
        self.sent.append(("create", token))

    def begin(self, token: str, value: types.WorkDoneProgressBegin) -> None:
        self.sent.append(("begin", value))

    def report(self, token: str, value: types.WorkDoneProgressReport) -> None:
        self.sent.append(("report", value))

    def end(self, token: str, value: types.WorkDoneProgressEnd) -> None:
        self.sent.append(("end", value))


class FakeServer:
    """The members of ``HostServer``; the editor applies edits unless told to refuse."""

    def __init__(self, tmp_path: Path, caps: types.ClientCapabilities | None = None) -> None:
        self.registry = CapabilityRegistry()
        self.settings = Settings()
        self.paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
        self.commands = CommandTable()
        self.completion_providers: list[Any] = []
        self.workspace = SimpleNamespace(text_documents={})
        self.client_capabilities = caps or capabilities()
        self.work_done_progress = Tracker()
        self.notified: list[tuple[str, Any]] = []
        self.protocol = SimpleNamespace(notify=lambda m, p: self.notified.append((m, p)))
        self.warnings: list[str] = []
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.refusals = 0
        self.shown: list[types.ShowDocumentParams] = []
        self.show_result: Any = types.ShowDocumentResult(success=True)
        self.root: Path | None = tmp_path

    def run_task(self, coro: Any, name: str) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro, name=name)

    def show_warning(self, message: str) -> None:
        self.warnings.append(message)

    def document_for_path(self, path: Path) -> TextDocument | None:
        return next(
            (d for d in self.workspace.text_documents.values() if d.path == str(path)), None
        )

    def workspace_root(self) -> Path | None:
        return self.root

    def open(self, uri: str, text: str) -> TextDocument:
        document = TextDocument(uri, text, version=1)
        self.workspace.text_documents[uri] = document
        return document

    def type(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        """A change in the editor (the user's or an applied edit), reported as didChange."""
        document = self.workspace.text_documents[uri]
        change = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(*start), types.Position(*end)), text=text
        )
        document.apply_change(change)
        document.version += 1
        events.emit(events.document_changed, self, uri=uri, changes=[change], version=0)

    async def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        self.edits.append(params)
        if self.refusals:
            self.refusals -= 1
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="busy")
        (document_edit,) = params.edit.document_changes or []
        uri = document_edit.text_document.uri
        assert document_edit.text_document.version == self.workspace.text_documents[uri].version
        for edit in document_edit.edits:
            r = edit.range
            self.type(
                uri, (r.start.line, r.start.character), (r.end.line, r.end.character), edit.new_text
            )
        return types.ApplyWorkspaceEditResult(applied=True)

    async def window_show_document_async(
        self, params: types.ShowDocumentParams
    ) -> types.ShowDocumentResult:
        self.shown.append(params)
        if isinstance(self.show_result, Exception):
            raise self.show_result
        return self.show_result


def make_context(tmp_path: Path, **caps: bool) -> tuple[PluginContext, FakeServer]:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "plugin.yaml").write_text(
        "id: probe\nname: Probe\nversion: 1.0.0\nentry: plugin:P\nsettings: {size: 3}\n"
    )
    server = FakeServer(tmp_path, capabilities(**caps))
    return PluginContext(load_manifest(folder / "plugin.yaml"), server), server


# -- no plugin reaches past its context ----------------------------------------------------


def _server_uses(path: Path) -> list[int]:
    """Lines of ``path`` where code reads an attribute named ``server``."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    return [
        name.start[0]
        for dot, name in itertools.pairwise(tokens)
        if dot.type == tokenize.OP and dot.string == "." and name.string == "server"
    ]


def test_no_plugin_and_no_example_reads_the_server_of_its_context():
    files = sorted((REPO / "plugins").rglob("*.py")) + sorted(
        (REPO / "docs" / "examples").rglob("*.py")
    )
    assert files
    uses = {str(f.relative_to(REPO)): lines for f in files if (lines := _server_uses(f))}
    assert uses == {}, "use a PluginContext method instead of the server"


def test_the_host_and_the_core_commands_do_not_import_the_server():
    # The host layer and the core commands type against HostServer, so the server can
    # import them without an import circle (not even one under TYPE_CHECKING).
    files = [*sorted((REPO / "butler_ls" / "host").glob("*.py"))]
    files += [REPO / "butler_ls" / "lsp" / "core_commands.py", REPO / "butler_ls" / "plugin_api.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "butler_ls.lsp.server", path


# -- messages and documents ------------------------------------------------------------------


def test_warnings_and_notifications_reach_the_client(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    ctx.show_warning("the microphone is gone")
    ctx.notify("butler/dictationState", {"state": "idle"})
    assert server.warnings == ["the microphone is gone"]
    assert server.notified == [("butler/dictationState", {"state": "idle"})]
    assert not hasattr(ctx, "server")


def test_documents_paths_and_folders(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    assert ctx.document(URI) is None and ctx.open_uris() == []
    document = server.open(URI, "# Today\n")
    assert ctx.document(URI) is document
    assert ctx.document_for_path(Path("/notes/today.md")) is document
    assert ctx.open_uris() == [URI]
    assert ctx.workspace_root() == tmp_path
    assert ctx.queue_dir == server.paths.queue_dir
    assert ctx.log_dir == server.paths.log_dir
    assert ctx.data_dir == server.paths.data_dir / "plugin-data" / "probe"
    assert ctx.plugin_settings == {"size": 3}
    assert ctx.client_capabilities is server.client_capabilities


def test_documents_before_the_client_is_initialized(tmp_path: Path):
    ctx, server = make_context(tmp_path)

    class NoWorkspaceYet:
        @property
        def text_documents(self) -> dict[str, TextDocument]:
            raise RuntimeError("no workspace before initialize")

    server.workspace = NoWorkspaceYet()
    assert ctx.document(URI) is None and ctx.open_uris() == []


async def test_show_document_says_whether_the_editor_showed_it(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    assert await ctx.show_document(URI) is True
    assert server.shown[-1].uri == URI and server.shown[-1].take_focus is True
    assert await ctx.show_document(URI, take_focus=False) is True
    assert server.shown[-1].take_focus is False
    server.show_result = types.ShowDocumentResult(success=False)
    assert await ctx.show_document(URI) is False
    server.show_result = RuntimeError("the pipe is gone")
    assert await ctx.show_document(URI) is False  # logged, not raised


async def test_show_document_is_not_sent_to_a_client_that_cannot(tmp_path: Path):
    ctx, server = make_context(tmp_path, show_document=False)
    assert await ctx.show_document(URI) is False
    assert server.shown == []


# -- progress --------------------------------------------------------------------------------


async def test_progress_begins_reports_ends_and_hears_the_cancel(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    progress = ctx.progress("Transcribing talk.wav")
    await progress.begin()
    await progress.report("12 s", 40)
    tracker = server.work_done_progress
    kinds = [kind for kind, _ in tracker.sent]
    assert kinds == ["create", "begin", "report"]
    assert tracker.sent[1][1].title == "Transcribing talk.wav" and tracker.sent[1][1].cancellable
    assert tracker.sent[2][1].percentage == 40 and tracker.sent[2][1].message == "12 s"
    tracker.tokens[progress.token].set_result(None)  # the user pressed cancel
    await asyncio.wait_for(progress.cancelled(), 1)
    await progress.end()
    assert tracker.sent[-1][0] == "end"


async def test_progress_is_silent_for_a_client_without_it(tmp_path: Path):
    ctx, server = make_context(tmp_path, progress=False)
    progress = ctx.progress("Transcribing")
    await progress.begin()
    await progress.report("1 s", 1)
    await progress.end()
    assert server.work_done_progress.sent == []


# -- edits -----------------------------------------------------------------------------------


def _append(text: str):
    """A plan that adds ``text`` at the end of the document as it is at each attempt."""

    def plan(document: TextDocument) -> types.TextEdit:
        end = document.position_codec.position_to_client_units(
            document.lines,
            types.Position(len(document.lines) - 1, len(document.lines[-1])),
        )
        return types.TextEdit(range=types.Range(end, end), new_text=text)

    return plan


async def test_apply_edit_is_versioned_and_waits_for_the_change(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    document = server.open(URI, "# Today\n- a")
    assert await ctx.apply_edit(URI, _append("\n- b"), label="Butler: test") is True
    assert document.source == "# Today\n- a\n- b"
    (params,) = server.edits
    assert params.label == "Butler: test"
    assert params.edit.document_changes[0].text_document.version == 1


async def test_a_refused_edit_is_planned_again_on_the_new_text(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    document = server.open(URI, "- a")
    server.refusals = 1
    planned: list[str] = []

    def plan(document: TextDocument) -> types.TextEdit:
        planned.append(document.source)
        if len(planned) == 1:
            server.type(URI, (0, 3), (0, 3), " typed")  # the user types meanwhile
        return _append("\n- b")(document)

    assert await ctx.apply_edit(URI, plan) is True
    assert planned == ["- a", "- a typed"]
    assert document.source == "- a typed\n- b"


async def test_nothing_to_do_sends_nothing_and_a_closed_document_says_so(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    server.open(URI, "- a")
    assert await ctx.apply_edit(URI, lambda document: None) is True
    assert await ctx.apply_edit("file:///closed.md", _append("x")) is False
    assert server.edits == []


async def test_an_editor_that_always_refuses_gets_a_clear_error(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    server.open(URI, "- a")
    server.refusals = 99
    with pytest.raises(EditRefused, match="refused to change") as raised:
        await ctx.apply_edit(URI, _append("x"))
    assert raised.value.attempts == len(server.edits) == 5


async def test_an_anchor_follows_the_users_typing(tmp_path: Path):
    ctx, server = make_context(tmp_path)
    document = server.open(URI, "Title\nBody: ")
    anchor = ctx.anchor(URI)  # at the end
    try:
        server.type(URI, (0, 0), (0, 0), "My ")  # typed above it
        await anchor.insert("spoken")
        assert document.source == "My Title\nBody: spoken"
    finally:
        anchor.detach()
