--- The `:Butler` user command: its subcommands and their completion.

local M = {}

---@class butler.Subcommand
---@field run fun(rest: string) Runs with the text after the subcommand (spaces kept).
---@field complete? fun(arglead: string): string[]
---@field desc string

local function files(arglead)
  return vim.fn.getcompletion(arglead, "file")
end

local function dates(arglead)
  local words = { "today", "yesterday", "tomorrow", "monday", "tuesday", "wednesday" }
  vim.list_extend(words, { "thursday", "friday", "saturday", "sunday", os.date("%Y-%m-%d") })
  return vim.tbl_filter(function(word)
    return vim.startswith(word, arglead)
  end, words)
end

local function butler()
  return require("butler")
end

---@type table<string, butler.Subcommand>
M.subcommands = {
  today = {
    desc = "open today's note",
    run = function()
      butler().open("today")
    end,
  },
  yesterday = {
    desc = "open yesterday's note",
    run = function()
      butler().open("yesterday")
    end,
  },
  tomorrow = {
    desc = "open tomorrow's note",
    run = function()
      butler().open("tomorrow")
    end,
  },
  open = {
    desc = "open the note of a date: :Butler open 2026-03-04",
    complete = dates,
    run = function(rest)
      butler().open(rest ~= "" and rest or "today")
    end,
  },
  note = {
    desc = "append a note: :Butler note call the bank (no text: asks for it)",
    run = function(rest)
      if rest == "" then
        butler().note_prompt()
      else
        butler().note(rest)
      end
    end,
  },
  dictate = {
    desc = "dictate at the cursor, from the microphone or a recording: :Butler dictate [file]",
    complete = files,
    run = function(rest)
      butler().dictate({ file = rest ~= "" and rest or nil })
    end,
  },
  voicenote = {
    desc = "toggle dictation into today's note",
    run = function()
      butler().voice_note()
    end,
  },
  toggle = {
    desc = "start or stop dictation at the cursor",
    run = function()
      butler().toggle()
    end,
  },
  stop = {
    desc = "stop dictation",
    run = function()
      butler().stop()
    end,
  },
  cancel = {
    desc = "stop dictation, inserting nothing more",
    run = function()
      butler().cancel()
    end,
  },
  status = {
    desc = "show the server's status",
    run = function()
      butler().status()
    end,
  },
  transcribe = {
    desc = "transcribe a recording at the cursor: :Butler transcribe {file}",
    complete = files,
    run = function(rest)
      butler().transcribe(rest)
    end,
  },
}

--- Runs `:Butler {subcommand} [args]`.
---@param opts { args: string }
function M.run(opts)
  local name, rest = opts.args:match("^%s*(%S*)%s*(.-)%s*$")
  if name == "" then
    name = "status"
  end
  local sub = M.subcommands[name]
  if not sub then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    vim.notify(
      ("Butler: unknown subcommand %q; one of: %s"):format(name, table.concat(names, ", ")),
      vim.log.levels.ERROR
    )
    return
  end
  sub.run(rest)
end

--- Completion of `:Butler`: subcommands, then each subcommand's own arguments.
---@param arglead string
---@param cmdline string
---@return string[]
function M.complete(arglead, cmdline)
  local words = vim.split(cmdline:gsub("^%s*%S+%s*", "", 1), "%s+", { trimempty = false })
  if #words <= 1 then
    local names = vim.tbl_filter(function(name)
      return vim.startswith(name, arglead)
    end, vim.tbl_keys(M.subcommands))
    table.sort(names)
    return names
  end
  local sub = M.subcommands[words[1]]
  if sub and sub.complete then
    return sub.complete(arglead)
  end
  return {}
end

return M
