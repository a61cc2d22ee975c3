-- :checkhealth drain_ls
local M = {}

function M.check()
  vim.health.start('drain_ls')
  local config = vim.lsp.config.drain_ls or {}
  local cmd = (config.cmd or { 'drain-ls' })[1]
  if vim.fn.executable(cmd) == 1 then
    vim.health.ok('server found: ' .. vim.fn.exepath(cmd))
    local argv = vim.list_extend(vim.deepcopy(config.cmd or { 'drain-ls' }), { '--version' })
    local version = vim.fn.system(argv)
    if vim.v.shell_error == 0 then
      vim.health.ok('version: ' .. vim.trim(version))
    else
      vim.health.error('`' .. cmd .. ' --version` failed: ' .. vim.trim(version))
    end
  else
    vim.health.error('server not found: ' .. cmd, { 'pip install drain-ls, or set cmd in setup()' })
  end
  local options = (require('drain_ls').options or {}).init_options or config.init_options or {}
  local llm = options.llm or {}
  if llm.enabled then
    vim.health.ok('LLM drains enabled (backend: ' .. (llm.backend or 'offline') .. ')')
  else
    vim.health.info('LLM drains disabled (llm.enabled = false): static checks only')
  end
  if vim.env.ANTHROPIC_API_KEY and vim.env.ANTHROPIC_API_KEY ~= '' then
    vim.health.ok('ANTHROPIC_API_KEY is set')
  else
    vim.health.info('no ANTHROPIC_API_KEY: drains use the free offline backend')
  end
  local home = vim.env.DRAIN_LS_HOME
  if not home or home == '' then
    home = vim.fn.stdpath('data'):gsub('nvim$', 'drain-ls')
  end
  vim.fn.mkdir(home, 'p')
  if vim.fn.filewritable(home) == 2 then
    vim.health.ok('ledger directory writable: ' .. home)
  else
    vim.health.error('ledger directory not writable: ' .. home, { 'set DRAIN_LS_HOME' })
  end
end

return M
