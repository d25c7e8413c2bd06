--- Butler's LSP client: found or started on demand, and commands sent through it
--- (`workspace/executeCommand`) once it is ready.

local util = require("butler.util")

local M = {}

--- How long a command waits for a server that is still starting, in milliseconds.
M.start_timeout = 30000

--- The running Butler client, ready or still starting.
---@return vim.lsp.Client?
function M.get()
  return vim.lsp.get_clients({ name = "butler", _uninitialized = true })[1]
end

--- The client configuration in force: `vim.lsp.config.butler` on 0.11+ (which merges
--- `lsp/butler.lua`, `setup()` and the user's `vim.lsp.config`), else the options.
---@return vim.lsp.Config
function M.resolved_config()
  if util.has_011 then
    local ok, config = pcall(function()
      return vim.lsp.config.butler
    end)
    if ok and type(config) == "table" and config.cmd then
      return vim.deepcopy(config)
    end
  end
  return require("butler.config").lsp_config()
end

--- Why the server cannot start, or nil when its executable is there.
---@param config vim.lsp.Config
---@return string?
function M.missing_server(config)
  local cmd = config.cmd
  if type(cmd) ~= "table" then
    return nil
  end
  if cmd[1] == nil or vim.fn.executable(cmd[1]) == 0 then
    return ("the server `%s` was not found; "):format(tostring(cmd[1]))
      .. "install butler-ls (`pipx install .` in the Butler repository) or set `cmd` in setup(); "
      .. "see :checkhealth butler"
  end
  return nil
end

--- Butler's client, started when none runs, and attached to `bufnr` when that is a file.
---@param bufnr? integer
---@return vim.lsp.Client? client
---@return string? err
function M.ensure(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local attach = util.is_file_buffer(bufnr)
  local client = M.get()
  if client then
    if attach and not vim.lsp.buf_is_attached(bufnr, client.id) then
      vim.lsp.buf_attach_client(bufnr, client.id)
    end
    return client
  end
  local config = M.resolved_config()
  local missing = M.missing_server(config)
  if missing then
    return nil, missing
  end
  if type(config.root_dir) == "function" then
    local root
    config.root_dir(bufnr, function(dir)
      root = dir
    end)
    config.root_dir = root
  end
  config.root_dir = config.root_dir or vim.fn.getcwd()
  local id
  if util.has_011 then
    id =
      vim.lsp.start(config, { bufnr = bufnr, attach = attach, reuse_client = config.reuse_client })
  elseif attach then
    ---@diagnostic disable-next-line: param-type-mismatch
    id = vim.lsp.start(config, { bufnr = bufnr, reuse_client = config.reuse_client })
  else
    ---@diagnostic disable-next-line: deprecated
    id = vim.lsp.start_client(config)
  end
  client = id and vim.lsp.get_client_by_id(id) or nil
  if not client then
    return nil, "the server did not start; see :checkhealth butler and :LspLog"
  end
  return client
end

--- Calls `fn(client)` once Butler's client is initialized, starting it when needed.
---@param bufnr integer?
---@param fn fun(client: vim.lsp.Client)
function M.when_ready(bufnr, fn)
  local client, err = M.ensure(bufnr)
  if not client then
    util.notify(err or "the server is not running", vim.log.levels.ERROR)
    return
  end
  local id = client.id
  local deadline = vim.uv.now() + M.start_timeout
  local function try()
    local current = vim.lsp.get_client_by_id(id)
    if not current then
      util.notify(
        "the server stopped while starting; see :checkhealth butler and :LspLog",
        vim.log.levels.ERROR
      )
    elseif current.initialized then
      fn(current)
    elseif vim.uv.now() > deadline then
      util.notify("the server did not answer in time; see :LspLog", vim.log.levels.ERROR)
    else
      vim.defer_fn(try, 20)
    end
  end
  try()
end

---@class butler.ExecuteOpts
---@field bufnr? integer Buffer the command is about (attached first; default: current).
---@field on_error? fun(err: lsp.ResponseError) Takes an error answer instead of vim.notify.
---@field prepare? fun(client: vim.lsp.Client): table? Builds the argument once the client is ready.

--- Runs a Butler command (`workspace/executeCommand`) and hands its answer to `on_result`.
--- An error answer is shown with `vim.notify`, unless `on_error` takes it.
---@param command string e.g. "butler.note.open"
---@param argument? table the command's one argument
---@param on_result? fun(result: any, client: vim.lsp.Client)
---@param opts? butler.ExecuteOpts
function M.execute(command, argument, on_result, opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  M.when_ready(bufnr, function(client)
    if opts.prepare then
      argument = opts.prepare(client)
    end
    local params = { command = command, arguments = argument and { argument } or nil }
    util.request(client, "workspace/executeCommand", params, function(err, result)
      if err then
        if opts.on_error then
          opts.on_error(err)
        else
          util.notify(
            ("%s: %s"):format(command, err.message or vim.inspect(err)),
            vim.log.levels.ERROR
          )
        end
        return
      end
      if on_result then
        on_result(result, client)
      end
    end, vim.api.nvim_buf_is_valid(bufnr) and bufnr or nil)
  end)
end

return M
