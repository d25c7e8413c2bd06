--- Renders the answer of `butler.status` as a few readable lines for `:Butler status`.

local M = {}

---@param value any
---@return boolean
local function present(value)
  return value ~= nil and value ~= vim.NIL
end

--- The lines of `:Butler status` for the answer `status`.
---@param status table
---@return string
function M.format(status)
  local lines = { ("Butler %s"):format(present(status.version) and status.version or "?") }
  local worker = status.worker
  if type(worker) == "table" then
    local pid = present(worker.pid) and (" (pid %s)"):format(worker.pid) or ""
    lines[#lines + 1] = ("worker: %s%s"):format(worker.state or "?", pid)
  end
  local queue = status.queue
  if type(queue) == "table" then
    lines[#lines + 1] = ("queue: %s, %s pending"):format(queue.backend or "?", queue.pending or 0)
  end
  local model = status.model
  if type(model) == "table" then
    lines[#lines + 1] = ("model: %s%s"):format(
      model.name or "?",
      model.loaded and " (loaded)" or ""
    )
  end
  local audio = status.audio
  if type(audio) == "table" then
    if audio.available then
      lines[#lines + 1] = "microphone: available"
    else
      local reason = present(audio.reason) and (": " .. audio.reason) or ""
      lines[#lines + 1] = "microphone: not available" .. reason
    end
  end
  for _, plugin in ipairs(type(status.plugins) == "table" and status.plugins or {}) do
    local reason = present(plugin.reason) and (" (" .. plugin.reason .. ")") or ""
    lines[#lines + 1] = ("plugin %s %s: %s%s"):format(
      plugin.id or "?",
      plugin.version or "",
      plugin.state or "?",
      reason
    )
  end
  local active = require("butler.dictation").active()
  lines[#lines + 1] = "dictation: " .. (active and active.state or "idle")
  return table.concat(lines, "\n")
end

return M
