"""The language server layer: the LSP server, the JSON-RPC protocol and transport, the command
table, the core commands, and edits at anchors that follow the user's typing."""
