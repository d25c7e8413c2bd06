--- Options of `require("butler").setup()` and the `vim.lsp.Config` built from them.
--- `lsp/butler.lua` and `setup()` both go through `lsp_config()`, so they agree.

local M = {}

--- Normal-mode keys (`keymaps = true` binds none in Insert mode).
---@class butler.Keymaps
---@field dictate? string|false Toggle dictation at the cursor (default `<leader>bd`).
---@field voice_note? string|false Toggle dictation into today's note (default `<leader>bv`).
---@field today? string|false Open today's note (default `<leader>bt`).
---@field note? string|false Append a note typed in a prompt (default `<leader>bn`).
---@field stop? string|false Stop dictation (default: none).

---@class butler.Opts
---@field cmd? string[] Command that starts the server (default `{ "butler-ls" }`).
---@field cmd_env? table<string, string> Extra environment variables for the server.
---@field settings? table The `butler` settings object (docs/configuration.md).
---@field filetypes? string[] Filetypes to attach to; nil (default): every file buffer.
---@field keymaps? boolean|butler.Keymaps `true`: the default Normal-mode keys; a table picks them.
---@field partial? boolean Show the words being spoken as virtual text (default `true`).
---@field autostart? boolean Start with the first file (default `true`), else on `:Butler`.

---@type butler.Opts
M.defaults = {
  cmd = { "butler-ls" },
  cmd_env = nil,
  settings = {},
  filetypes = nil,
  keymaps = false,
  partial = true,
  autostart = true,
}

---@type butler.Keymaps
M.default_keymaps = {
  dictate = "<leader>bd",
  voice_note = "<leader>bv",
  today = "<leader>bt",
  note = "<leader>bn",
  stop = false,
}

--- The options in force: the defaults until `setup()` merges the user's.
---@type butler.Opts
M.options = vim.deepcopy(M.defaults)

--- True once `setup()` ran (the options then come from it, not from `vim.lsp.config`).
M.configured = false

--- Raises a clear error when an option has the wrong type (nil is always allowed).
---@param name string
---@param value any
---@param ... string the accepted types
local function expect(name, value, ...)
  if value == nil then
    return
  end
  for _, kind in ipairs({ ... }) do
    if type(value) == kind then
      return
    end
  end
  error(
    ("butler.setup: `%s` must be a %s, not a %s"):format(
      name,
      table.concat({ ... }, " or "),
      type(value)
    ),
    3
  )
end

--- Merges `opts` over the defaults and keeps the result as `M.options`.
---@param opts? butler.Opts
---@return butler.Opts
function M.merge(opts)
  opts = opts or {}
  expect("opts", opts, "table")
  expect("cmd", opts.cmd, "table")
  expect("cmd_env", opts.cmd_env, "table")
  expect("settings", opts.settings, "table")
  expect("filetypes", opts.filetypes, "table")
  expect("keymaps", opts.keymaps, "boolean", "table")
  expect("partial", opts.partial, "boolean")
  expect("autostart", opts.autostart, "boolean")
  -- A list (cmd, filetypes) replaces the default rather than merging index by index.
  local merged = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  merged.cmd = opts.cmd or M.defaults.cmd
  merged.filetypes = opts.filetypes
  M.options = merged
  M.configured = true
  return merged
end

--- The settings object as JSON expects it: an empty table must go out as `{}`, not `[]`.
---@param settings? table
---@return table
function M.settings_object(settings)
  if settings == nil or next(settings) == nil then
    return vim.empty_dict()
  end
  return settings
end

--- Every buffer shares one Butler server per Neovim: one microphone, one notes folder.
---@param client vim.lsp.Client
---@param config vim.lsp.ClientConfig
---@return boolean
local function reuse_client(client, config)
  return client.name == config.name
end

--- The root is the working directory: Butler serves any file, project or not.
---@param bufnr integer
---@param on_dir fun(root: string)
local function root_dir(bufnr, on_dir)
  local _ = bufnr
  on_dir(vim.fn.getcwd())
end

--- `initializationOptions` default to the `butler` settings, so one table feeds both.
---@param params lsp.InitializeParams
---@param config vim.lsp.ClientConfig
local function before_init(params, config)
  if params.initializationOptions == nil then
    local settings = config.settings and config.settings.butler
    params.initializationOptions = M.settings_object(settings)
  end
end

--- The client configuration for `opts` (the options in force when omitted).
---@param opts? butler.Opts
---@return vim.lsp.Config
function M.lsp_config(opts)
  opts = opts or M.options
  local handlers = require("butler.handlers")
  ---@type vim.lsp.Config
  local config = {
    name = "butler",
    cmd = vim.deepcopy(opts.cmd or M.defaults.cmd),
    cmd_env = opts.cmd_env,
    filetypes = opts.filetypes,
    root_dir = root_dir,
    reuse_client = reuse_client,
    settings = { butler = M.settings_object(vim.deepcopy(opts.settings)) },
    before_init = before_init,
    -- Dictation inserts while the user types: tell the server about edits quickly, so it
    -- places text against a fresh copy of the buffer.
    flags = { debounce_text_changes = 20 },
    handlers = {
      ["butler/dictationState"] = handlers.dictation_state,
      ["workspace/applyEdit"] = handlers.apply_edit,
    },
    on_exit = handlers.on_exit,
  }
  return config
end

return M
