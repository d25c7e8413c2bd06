--- Handlers of what the Butler server sends: its dictation state, and the edits it applies.
--- They are installed on Butler's client only (see `butler.config.lsp_config`).

local M = {}

--- `butler/dictationState`: feeds the statusline and the provisional text.
---@param _ lsp.ResponseError?
---@param params table
---@param ctx lsp.HandlerContext
function M.dictation_state(_, params, ctx)
  require("butler.dictation").on_state(params, ctx.client_id)
end

--- `workspace/applyEdit`, stricter than Neovim's own: an edit computed for an older
--- version of a buffer is refused (`applied = false`), so the server places it again
--- against the buffer as it is now, instead of the edit being dropped while reported as
--- applied. That is what keeps dictated text and typed text both intact.
---@param _ lsp.ResponseError?
---@param params lsp.ApplyWorkspaceEditParams
---@param ctx lsp.HandlerContext
---@return lsp.ApplyWorkspaceEditResult
function M.apply_edit(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return { applied = false, failureReason = "the Butler client has stopped" }
  end
  local edit = params.edit or {}
  for _, change in ipairs(edit.documentChanges or {}) do
    local document = change.textDocument
    local version = document and document.version
    if type(version) == "number" and version > 0 then
      local bufnr = require("butler.util").buffer_of(document.uri)
      local current = bufnr and vim.lsp.util.buf_versions[bufnr]
      if type(current) == "number" and current > version then
        return {
          applied = false,
          failureReason = ("the buffer changed (version %d, edit made for %d)"):format(
            current,
            version
          ),
        }
      end
    end
  end
  -- No `label` print: dictation sends many small edits, and each would be a message.
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, client.offset_encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  return { applied = true }
end

--- The server stopped: its dictation state and provisional text go with it.
---@param _code integer
---@param _signal integer
---@param client_id integer
function M.on_exit(_code, _signal, client_id)
  vim.schedule(function()
    require("butler.dictation").forget_client(client_id)
  end)
end

return M
