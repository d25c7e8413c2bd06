--- Dictation as the editor shows it: the state the server reports (`butler/dictationState`),
--- the statusline component, and the words being spoken as virtual text at the dictation point.

local util = require("butler.util")

local M = {}

---@class butler.DictationState
---@field sessionId string
---@field state "listening"|"transcribing"|"idle"|"error"
---@field level? number Input level in dBFS (0 is full scale).
---@field pending? integer Utterances waiting to be transcribed and inserted.
---@field message? string
---@field partial? string Provisional words of the utterance being spoken.
---@field uri? string Document the text goes into.
---@field position? lsp.Position The dictation point.
---@field target? "cursor"|"dailyNote"
---@field source? "microphone"|"file"
---@field language? string Language code of the session (`fr`), once known.
---@field languageDetected? boolean Whether `language` was detected (a multilingual model).
---@field client_id? integer

--- Namespace of the provisional-text extmarks.
M.ns = vim.api.nvim_create_namespace("butler.partial")

--- Live sessions by id; ended ones are removed.
---@type table<string, butler.DictationState>
M.sessions = {}

--- Id of the session that reported last (the one the statusline shows).
---@type string?
M.latest = nil

--- Provisional-text extmark of each session: `{ bufnr, id }`.
---@type table<string, { bufnr: integer, id: integer }>
local marks = {}

--- The session the user is most likely talking about: the latest live one.
---@return butler.DictationState?
function M.active()
  if M.latest and M.sessions[M.latest] then
    return M.sessions[M.latest]
  end
  local _, any = next(M.sessions)
  return any
end

local function clear_partial(session_id)
  local mark = marks[session_id]
  marks[session_id] = nil
  if mark and vim.api.nvim_buf_is_valid(mark.bufnr) then
    pcall(vim.api.nvim_buf_del_extmark, mark.bufnr, M.ns, mark.id)
  end
end

---@param state butler.DictationState
local function show_partial(state)
  local text = state.partial
  local position = state.position
  local enabled = require("butler.config").options.partial ~= false
  if
    not enabled
    or type(text) ~= "string"
    or text == ""
    or not state.uri
    or type(position) ~= "table"
  then
    clear_partial(state.sessionId)
    return
  end
  local bufnr = util.buffer_of(state.uri)
  if not bufnr then
    clear_partial(state.sessionId)
    return
  end
  local last = vim.api.nvim_buf_line_count(bufnr) - 1
  local row = math.max(0, math.min(position.line or 0, last))
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local client = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  local col = util.byte_col(line, position.character or 0, client and client.offset_encoding)
  -- The words will join the text before them with a space; show them that way.
  local before = col > 0 and line:sub(col, col) or ""
  if before ~= "" and not before:match("%s") then
    text = " " .. text
  end
  local mark = marks[state.sessionId]
  if mark and mark.bufnr ~= bufnr then
    clear_partial(state.sessionId)
    mark = nil
  end
  local ok, id = pcall(vim.api.nvim_buf_set_extmark, bufnr, M.ns, row, col, {
    id = mark and mark.id or nil,
    virt_text = { { text, "ButlerPartial" } },
    virt_text_pos = "inline",
    right_gravity = false,
    undo_restore = false,
    invalidate = true,
  })
  if ok then
    marks[state.sessionId] = { bufnr = bufnr, id = id }
  end
end

local function refresh()
  pcall(vim.cmd, "redrawstatus!")
end

--- Handles one `butler/dictationState` notification.
---@param params butler.DictationState
---@param client_id? integer
function M.on_state(params, client_id)
  if type(params) ~= "table" or params.sessionId == nil then
    return
  end
  local id = params.sessionId
  local state = vim.deepcopy(params)
  state.client_id = client_id
  if state.state == "idle" or state.state == "error" then
    M.sessions[id] = nil
    if M.latest == id then
      M.latest = nil
    end
    clear_partial(id)
    if state.state == "error" then
      util.notify(
        "dictation failed: " .. (state.message or "no reason given"),
        vim.log.levels.ERROR
      )
    end
  else
    M.sessions[id] = state
    M.latest = id
    show_partial(state)
  end
  refresh()
  vim.api.nvim_exec_autocmds("User", {
    pattern = "ButlerDictationState",
    modeline = false,
    data = state,
  })
end

--- Forgets every session of a client that stopped.
---@param client_id integer
function M.forget_client(client_id)
  for id, state in pairs(M.sessions) do
    if state.client_id == client_id then
      M.sessions[id] = nil
      clear_partial(id)
      if M.latest == id then
        M.latest = nil
      end
    end
  end
  refresh()
end

local EIGHTHS = { "▏", "▎", "▍", "▌", "▋", "▊", "▉" }

--- Quietest level the meter shows, in dBFS; 0 dBFS fills it.
M.meter_floor = -60

--- A level meter `width` cells wide for `level` dBFS: `███▌·`.
---@param level number
---@param width? integer
---@return string
function M.meter(level, width)
  width = width or 5
  local fraction = (level - M.meter_floor) / -M.meter_floor
  fraction = math.max(0, math.min(1, fraction))
  local eighths = math.floor(fraction * width * 8 + 0.5)
  local full = math.floor(eighths / 8)
  local rest = eighths % 8
  local out = string.rep("█", full)
  local used = full
  if rest > 0 then
    out = out .. EIGHTHS[rest]
    used = used + 1
  end
  return out .. string.rep("·", width - used)
end

--- The statusline text for `state` (the active session when omitted): a recording dot and
--- a level meter while listening, a half circle while transcribing, the number of
--- utterances still to insert (`…2`), and the language in capitals (`FR`) when it was
--- detected or is not English. Empty when no dictation runs.
---@param state? butler.DictationState|{}
---@return string
function M.statusline(state)
  if state == nil then
    state = M.active()
  end
  if type(state) ~= "table" or (state.state ~= "listening" and state.state ~= "transcribing") then
    return ""
  end
  local parts = {}
  if state.state == "listening" then
    parts[#parts + 1] = "●"
    if type(state.level) == "number" then
      parts[#parts + 1] = M.meter(state.level)
    end
  else
    parts[#parts + 1] = "◐"
  end
  local pending = tonumber(state.pending) or 0
  if pending > 0 then
    parts[#parts + 1] = "…" .. pending
  end
  local language = state.language
  if type(language) == "string" and (state.languageDetected == true or language ~= "en") then
    parts[#parts + 1] = language:upper()
  end
  return table.concat(parts, " ")
end

return M
