--- `:checkhealth butler`: is the server there, which version, and what `butler-ls doctor`
--- says about the microphone, model, queue, worker and folders.

local M = {}

local health = vim.health

--- How long `butler-ls doctor` may take, in milliseconds (it loads the model).
M.doctor_timeout = 120000

---@param cmd string[]
---@param args string[]
---@param env? table<string, string>
---@param timeout integer
---@return vim.SystemCompleted
local function run(cmd, args, env, timeout)
  local argv = vim.list_extend(vim.deepcopy(cmd), args)
  local ok, process = pcall(vim.system, argv, { text = true, env = env })
  if not ok then
    return { code = -1, signal = 0, stdout = "", stderr = tostring(process) }
  end
  return process:wait(timeout)
end

---@param text string?
---@return string
local function last_line(text)
  return (vim.trim(text or ""):match("[^\n]*$") or "")
end

---@param check { name?: string, status?: string, detail?: string, fix?: string }
local function report_check(check)
  local message = ("%s: %s"):format(check.name or "?", check.detail or "")
  local advice = (type(check.fix) == "string" and check.fix ~= "") and { check.fix } or nil
  if check.status == "ok" then
    health.ok(message)
  elseif check.status == "warn" then
    health.warn(message, advice)
  else
    health.error(message, advice)
  end
end

---@param config vim.lsp.Config
---@param cmd string[]
local function check_doctor(config, cmd)
  health.start("butler: butler-ls doctor")
  local workspace = vim.fn.getcwd()
  local client = require("butler.client").get()
  if client and client.root_dir then
    workspace = client.root_dir
  end
  local args = { "doctor", "--json", "--workspace", workspace }
  local settings = config.settings and config.settings.butler
  if type(settings) == "table" and next(settings) ~= nil then
    -- Checked over config.yaml, as the server merges them.
    vim.list_extend(args, { "--settings", vim.json.encode(settings) })
  end
  local result = run(cmd, args, config.cmd_env, M.doctor_timeout)
  if result.code == 124 or result.signal ~= 0 then
    health.error(("`butler-ls doctor` did not finish in %d s"):format(M.doctor_timeout / 1000))
    return
  end
  local ok, report =
    pcall(vim.json.decode, result.stdout or "", { luanil = { object = true, array = true } })
  if not ok or type(report) ~= "table" or type(report.checks) ~= "table" then
    local stderr = result.stderr or ""
    if stderr:find("invalid choice", 1, true) then
      health.warn(
        "this butler-ls has no `doctor` command",
        { "Upgrade butler-ls to get the full check." }
      )
    else
      health.error(
        "`butler-ls doctor --json` gave no report: "
          .. last_line(stderr ~= "" and stderr or result.stdout),
        { "Run `butler-ls doctor` in a terminal to see what goes wrong." }
      )
    end
    return
  end
  for _, check in ipairs(report.checks) do
    report_check(check)
  end
  if report.ok then
    health.ok("doctor: no check failed")
  end
  health.info(
    "The doctor checks ~/.config/butler/config.yaml with the settings given to setup() over it."
  )
end

local function check_client()
  health.start("butler: client")
  local client = require("butler.client").get()
  if not client then
    health.info("not running; it starts with the first file you open, or with :Butler")
    return
  end
  local buffers = vim.tbl_count(client.attached_buffers or {})
  health.ok(
    ("running (client %d, root %s, %d buffer%s attached, %s)"):format(
      client.id,
      client.root_dir or "?",
      buffers,
      buffers == 1 and "" or "s",
      client.initialized and "ready" or "starting"
    )
  )
  local state = require("butler.dictation").active()
  health.info("dictation: " .. (state and state.state or "idle"))
end

--- Runs the checks of `:checkhealth butler`.
function M.check()
  health.start("butler: Neovim")
  if vim.fn.has("nvim-0.10") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Butler needs Neovim 0.10 or later", { "Upgrade Neovim." })
  end

  health.start("butler: server")
  local client_module = require("butler.client")
  local config = client_module.resolved_config()
  local cmd = config.cmd
  if type(cmd) ~= "table" then
    health.warn("`cmd` is a function (a custom connection); the server cannot be checked from here")
    check_client()
    return
  end
  local shown = table.concat(cmd, " ")
  if cmd[1] == nil or vim.fn.executable(cmd[1]) == 0 then
    health.error(
      ("server executable `%s` not found (cmd = { %s })"):format(tostring(cmd[1]), shown),
      {
        "In the Butler repository: `pipx install .` (or `python3 -m pip install .`).",
        'Or point the plugin at it: require("butler").setup({ cmd = { "/path/to/butler-ls" } }).',
      }
    )
    return
  end
  health.ok(("server executable: %s (cmd = { %s })"):format(vim.fn.exepath(cmd[1]), shown))
  local version = run(cmd, { "--version" }, config.cmd_env, 30000)
  if version.code ~= 0 then
    health.error(
      ("`%s --version` failed (exit %d): %s"):format(shown, version.code, last_line(version.stderr)),
      { "Reinstall butler-ls; run the command in a terminal to see the error." }
    )
    return
  end
  health.ok("version: " .. last_line(version.stdout))
  check_doctor(config, cmd)
  check_client()
end

return M
