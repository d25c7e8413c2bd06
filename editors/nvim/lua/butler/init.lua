--- Butler for Neovim: daily notes and dictation through the `butler-ls` language server.
--- `setup()` configures and enables the client; the other functions are the `:Butler` verbs.

local util = require("butler.util")

local M = {}

local augroup = vim.api.nvim_create_augroup("butler", { clear = true })

---@param keymaps boolean|butler.Keymaps
local function set_keymaps(keymaps)
  if not keymaps then
    return
  end
  local config = require("butler.config")
  local keys =
    vim.tbl_extend("force", config.default_keymaps, type(keymaps) == "table" and keymaps or {})
  local plugs = {
    dictate = { "<Plug>(butler-dictate)", "Butler: toggle dictation at the cursor" },
    voice_note = { "<Plug>(butler-voice-note)", "Butler: toggle dictation into today's note" },
    today = { "<Plug>(butler-today)", "Butler: open today's note" },
    note = { "<Plug>(butler-note)", "Butler: append a note" },
    stop = { "<Plug>(butler-stop)", "Butler: stop dictation" },
  }
  for name, lhs in pairs(keys) do
    local plug = plugs[name]
    if plug and type(lhs) == "string" and lhs ~= "" then
      -- Normal mode only: in Insert mode a <leader> key would type its text. Insert-mode
      -- keys are the user's own, bound to the <Plug> mappings that work there.
      vim.keymap.set("n", lhs, plug[1], { remap = true, desc = plug[2] })
    end
  end
end

--- Starts the client for file buffers on Neovim 0.10 (0.11+ uses `vim.lsp.enable`).
---@param filetypes? string[]
local function autostart_010(filetypes)
  local function attach(bufnr)
    if not util.is_file_buffer(bufnr) then
      return
    end
    if filetypes and not vim.tbl_contains(filetypes, vim.bo[bufnr].filetype) then
      return
    end
    require("butler.client").ensure(bufnr)
  end
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile", "FileType" }, {
    group = augroup,
    callback = function(args)
      attach(args.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      attach(bufnr)
    end
  end
end

--- Configures Butler; every field is optional. Works as lazy.nvim's `opts`.
--- Calling it again applies new settings to the running server.
---@param opts? butler.Opts
function M.setup(opts)
  local config = require("butler.config")
  local options = config.merge(opts)
  vim.api.nvim_clear_autocmds({ group = augroup })
  local lsp_config = config.lsp_config(options)
  if util.has_011 then
    -- Overrides the defaults of lsp/butler.lua; the user's own vim.lsp.config still wins
    -- when called after setup().
    vim.lsp.config("butler", {
      cmd = lsp_config.cmd,
      cmd_env = lsp_config.cmd_env,
      filetypes = lsp_config.filetypes,
      settings = lsp_config.settings,
    })
    if options.autostart ~= false then
      vim.lsp.enable("butler")
    end
  elseif options.autostart ~= false then
    autostart_010(options.filetypes)
  end
  set_keymaps(options.keymaps)
  for _, client in ipairs(vim.lsp.get_clients({ name = "butler" })) do
    client.settings = lsp_config.settings
    util.notify_server(client, "workspace/didChangeConfiguration", { settings = client.settings })
  end
end

--- Opens the daily note of `date` ("today", "yesterday", "tomorrow", "2026-03-04",
--- "monday", "-3"...); the server creates it from the template and shows it.
---@param date? string
function M.open(date)
  require("butler.client").execute("butler.note.open", { date = date or "today" }, function(result)
    -- The server asked Neovim to show the note already; make sure it did.
    local shown = vim.uv.fs_realpath(vim.api.nvim_buf_get_name(0))
    if result and result.path and shown ~= vim.uv.fs_realpath(result.path) then
      vim.cmd.edit(vim.fn.fnameescape(result.path))
    end
  end)
end

--- Appends `text` as a timestamped entry to a daily note (today's by default).
---@param text string
---@param opts? { date?: string, section?: string }
function M.note(text, opts)
  opts = opts or {}
  if type(text) ~= "string" or vim.trim(text) == "" then
    util.notify(
      "nothing to note: give the text, e.g. :Butler note call the bank",
      vim.log.levels.WARN
    )
    return
  end
  local argument = { text = text, date = opts.date, section = opts.section }
  require("butler.client").execute("butler.note.append", argument, function(result)
    if result and result.path then
      util.notify("noted in " .. vim.fn.fnamemodify(result.path, ":~:."))
    end
  end)
end

--- Asks for a note with `vim.ui.input`, then appends it to today's note.
function M.note_prompt()
  vim.ui.input({ prompt = "Butler note: " }, function(text)
    if text and vim.trim(text) ~= "" then
      M.note(text)
    end
  end)
end

--- The cursor of the current window, and a function that gives it as an LSP position
--- once the client's position encoding is known.
---@return integer bufnr
---@return fun(client: vim.lsp.Client): { uri: string, position: lsp.Position }
local function cursor_target()
  local bufnr = vim.api.nvim_get_current_buf()
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local line = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, false)[1] or ""
  -- Outside Insert mode the cursor sits on a character. On the last one of a line (where
  -- <Esc> leaves it after typing), text goes after it, as with `A`; elsewhere before it.
  local mode = vim.api.nvim_get_mode().mode
  if not mode:match("^[iR]") and vim.fn.strchars(line:sub(col + 1)) == 1 then
    col = #line
  end
  return bufnr,
    function(client)
      return {
        uri = vim.uri_from_bufnr(bufnr),
        position = {
          line = row - 1,
          character = util.lsp_character(line, col, client.offset_encoding),
        },
      }
    end
end

---@class butler.DictateOpts
---@field file? string Play this recording as if it were the microphone.
---@field speed? number Playback speed of `file` (1.0 is real time).
---@field target? "cursor"|"dailyNote" Where the text goes (default "cursor").

--- Builds the argument of `butler.dictation.start`/`toggle`, or nil with a message.
---@param opts butler.DictateOpts
---@return integer? bufnr
---@return (fun(client: vim.lsp.Client): table)? prepare
local function dictation_argument(opts)
  local target = opts.target or "cursor"
  local file = opts.file and opts.file ~= "" and util.absolute_path(opts.file) or nil
  if file and vim.fn.filereadable(file) == 0 then
    util.notify(("no such recording: %s"):format(file), vim.log.levels.ERROR)
    return nil
  end
  local bufnr, where = cursor_target()
  if target == "cursor" and not util.is_file_buffer(bufnr) then
    util.notify(
      "dictation goes into a file buffer: save this buffer first, or use the voice note",
      vim.log.levels.WARN
    )
    return nil
  end
  return bufnr,
    function(client)
      local argument = { target = target, audioFile = file, speed = opts.speed }
      if target == "cursor" then
        argument = vim.tbl_extend("force", argument, where(client))
      end
      return argument
    end
end

--- Starts dictation at the cursor (or into today's note with `target = "dailyNote"`).
---@param opts? butler.DictateOpts
function M.dictate(opts)
  local bufnr, prepare = dictation_argument(opts or {})
  if not prepare then
    return
  end
  require("butler.client").execute("butler.dictation.start", nil, function(result)
    if result and result.sessionId then
      util.notify("listening… (:Butler stop to end)")
    end
  end, { bufnr = bufnr, prepare = prepare })
end

--- Starts dictation, or stops the one that runs.
---@param opts? butler.DictateOpts
function M.toggle(opts)
  local bufnr, prepare = dictation_argument(opts or {})
  if not prepare then
    return
  end
  require("butler.client").execute("butler.dictation.toggle", nil, function(result)
    if result and result.text == nil and result.sessionId then
      util.notify("listening… (:Butler stop to end)")
    end
  end, { bufnr = bufnr, prepare = prepare })
end

--- Toggles dictation into today's note, wherever the cursor is.
function M.voice_note()
  M.toggle({ target = "dailyNote" })
end

--- `{sessionId}` of the dictation session that runs, if the client knows one; else an
--- empty JSON object (a plain `{}` would be sent as a list), so the server picks it.
---@return table
local function session_argument()
  local active = require("butler.dictation").active()
  if active and active.sessionId then
    return { sessionId = active.sessionId }
  end
  return vim.empty_dict()
end

--- Stops dictation once everything said so far is in the document.
function M.stop()
  require("butler.client").execute("butler.dictation.stop", session_argument(), function()
    util.notify("dictation stopped")
  end)
end

--- Stops dictation at once; nothing more is inserted.
function M.cancel()
  require("butler.client").execute("butler.dictation.cancel", session_argument(), function()
    util.notify("dictation cancelled")
  end)
end

--- Transcribes a recording into the current buffer at the cursor.
---@param path string
function M.transcribe(path)
  if type(path) ~= "string" or path == "" then
    util.notify("give the recording: :Butler transcribe memo.m4a", vim.log.levels.WARN)
    return
  end
  local file = util.absolute_path(path)
  local bufnr, where = cursor_target()
  if not util.is_file_buffer(bufnr) then
    util.notify(
      "the transcript goes into a file buffer: save this buffer first",
      vim.log.levels.WARN
    )
    return
  end
  require("butler.client").execute("butler.transcribeFile", nil, function(result)
    if result and result.duration then
      util.notify(
        ("transcribed %s (%.0f s)"):format(vim.fn.fnamemodify(file, ":t"), result.duration)
      )
    end
  end, {
    bufnr = bufnr,
    prepare = function(client)
      return vim.tbl_extend("force", { path = file, target = "cursor" }, where(client))
    end,
  })
end

--- Shows `butler.status`: version, plugins, worker, queue, model and microphone.
function M.status()
  require("butler.client").execute("butler.status", nil, function(status)
    vim.notify(
      require("butler.status").format(status or {}),
      vim.log.levels.INFO,
      { title = "Butler" }
    )
  end)
end

--- The dictation state the server reported last, nil when none runs.
---@return butler.DictationState?
function M.state()
  return require("butler.dictation").active()
end

--- Statusline component: `● ███▌· …2` while dictating, empty otherwise.
--- Pass a state table to render it instead of the live one.
---@param state? table
---@return string
function M.statusline(state)
  return require("butler.dictation").statusline(state)
end

return M
