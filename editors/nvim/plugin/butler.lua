-- Butler: the :Butler command, <Plug> mappings and highlights. Everything else loads on use.
if vim.g.loaded_butler then
  return
end
vim.g.loaded_butler = true

vim.api.nvim_create_user_command("Butler", function(opts)
  require("butler.commands").run(opts)
end, {
  nargs = "*",
  complete = function(arglead, cmdline)
    return require("butler.commands").complete(arglead, cmdline)
  end,
  desc = "Butler: daily notes and dictation (:help :Butler)",
})

local function plug(modes, name, fn, desc)
  vim.keymap.set(modes, "<Plug>(butler-" .. name .. ")", fn, { desc = "Butler: " .. desc })
end
plug({ "n", "i" }, "dictate", function()
  require("butler").toggle()
end, "toggle dictation at the cursor")
plug({ "n", "i" }, "voice-note", function()
  require("butler").voice_note()
end, "toggle dictation into today's note")
plug({ "n", "i" }, "stop", function()
  require("butler").stop()
end, "stop dictation")
plug("n", "today", function()
  require("butler").open("today")
end, "open today's note")
plug("n", "note", function()
  require("butler").note_prompt()
end, "append a note")

local function highlights()
  vim.api.nvim_set_hl(0, "ButlerPartial", { link = "Comment", default = true })
end
highlights()
vim.api.nvim_create_autocmd("ColorScheme", {
  group = vim.api.nvim_create_augroup("butler.highlights", { clear = true }),
  callback = highlights,
})
