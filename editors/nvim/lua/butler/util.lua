--- Small helpers shared by the Butler modules, and the few places where Neovim 0.10
--- and 0.11+ differ (method call style, string index functions).

local M = {}

--- True on Neovim 0.11 and later (`vim.lsp.config`, `client:request`).
M.has_011 = vim.fn.has("nvim-0.11") == 1

--- Shows a message from Butler, prefixed so the user knows where it comes from.
---@param message string
---@param level? integer a `vim.log.levels` value (default INFO)
function M.notify(message, level)
  vim.notify("Butler: " .. message, level or vim.log.levels.INFO, { title = "Butler" })
end

--- Sends a request through `client`, on any supported Neovim.
---@param client vim.lsp.Client
---@param method string
---@param params table?
---@param handler fun(err: lsp.ResponseError?, result: any)
---@param bufnr? integer
function M.request(client, method, params, handler, bufnr)
  if M.has_011 then
    return client:request(method, params, handler, bufnr)
  end
  ---@diagnostic disable-next-line: param-type-mismatch
  return client.request(method, params, handler, bufnr)
end

--- Sends a notification through `client`, on any supported Neovim.
---@param client vim.lsp.Client
---@param method string
---@param params table?
function M.notify_server(client, method, params)
  if M.has_011 then
    return client:notify(method, params)
  end
  ---@diagnostic disable-next-line: param-type-mismatch
  return client.notify(method, params)
end

--- The byte column of LSP `character` in `line` (counted in `encoding` units).
---@param line string
---@param character integer
---@param encoding? string "utf-8", "utf-16" (the default) or "utf-32"
---@return integer
function M.byte_col(line, character, encoding)
  encoding = encoding or "utf-16"
  if encoding == "utf-8" then
    return math.min(character, #line)
  end
  local ok, col
  if M.has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ---@diagnostic disable-next-line: param-type-mismatch
    ok, col = pcall(vim.str_byteindex, line, character, encoding == "utf-16")
  end
  if not ok or type(col) ~= "number" then
    return #line
  end
  return math.min(col, #line)
end

--- The LSP character (in `encoding` units) of byte column `col` in `line`.
---@param line string
---@param col integer
---@param encoding? string
---@return integer
function M.lsp_character(line, col, encoding)
  encoding = encoding or "utf-16"
  col = math.min(col, #line)
  if encoding == "utf-8" then
    return col
  end
  if M.has_011 then
    local ok, index = pcall(vim.str_utfindex, line, encoding, col, false)
    return ok and index or col
  end
  local ok, utf32, utf16 = pcall(vim.str_utfindex, line, col)
  if not ok then
    return col
  end
  return encoding == "utf-32" and utf32 or utf16
end

--- The loaded buffer that holds `uri`, without creating one.
---@param uri string
---@return integer?
function M.buffer_of(uri)
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.uri_from_bufnr(bufnr) == uri then
      return bufnr
    end
  end
  return nil
end

--- True when `bufnr` is a buffer for a file, which the server can follow.
---@param bufnr integer
---@return boolean
function M.is_file_buffer(bufnr)
  return vim.api.nvim_buf_is_valid(bufnr)
    and vim.bo[bufnr].buftype == ""
    and vim.api.nvim_buf_get_name(bufnr) ~= ""
end

--- An absolute path for what the user typed (`~`, `%` and environment variables expanded).
---@param text string
---@return string
function M.absolute_path(text)
  local expanded = vim.fn.expand(text)
  if expanded == "" then
    expanded = text
  end
  return vim.fn.fnamemodify(expanded, ":p")
end

return M
