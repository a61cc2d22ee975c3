-- drain-ls for Neovim 0.11+: data only. `vim.lsp.enable('drain_ls')` picks this up from the
-- runtimepath; `require('drain_ls').setup()` adds the status line, commands and health check.
return {
  cmd = { 'drain-ls' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' },
  -- Sent as initializationOptions and answered to workspace/configuration (section drainLs).
  init_options = {},
  settings = { drainLs = {} },
}
