-- drain-ls for Neovim 0.11+: data only. `vim.lsp.enable('drain_ls')` picks this up from the
-- runtimepath; `require('drain_ls').setup()` adds the status line, commands and health check.
return {
  cmd = { 'drain-ls' },
  -- If you set cmd to a Python (`{ python, '-P', '-m', 'drain_ls' }`), this keeps the working
  -- directory (the project) off sys.path even without -P: a repository's own drain_ls/ package
  -- must not run instead of the server. The `drain-ls` script is safe in any directory.
  cmd_env = { PYTHONSAFEPATH = '1' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' },
  -- Sent as initializationOptions and answered to workspace/configuration (section drainLs).
  init_options = {},
  settings = { drainLs = {} },
}
