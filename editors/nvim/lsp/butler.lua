-- Butler's client configuration, for `vim.lsp.enable("butler")` (Neovim 0.11+).
-- Adjust it with `vim.lsp.config("butler", {...})` or `require("butler").setup({...})`.

---@type vim.lsp.Config
return require("butler.config").lsp_config()
