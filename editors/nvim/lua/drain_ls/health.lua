-- :checkhealth drain_ls
local M = {}

local DEFAULT_BASE_URL = 'http://localhost:11434/v1'

--- `url` without user:password, query and fragment (fit for a message).
local function display_url(url)
  url = url:gsub('[?#].*$', '')
  url = url:gsub('^(%a[%w+.-]*://)[^/@]*@', '%1')
  return (url:gsub('/+$', ''))
end

--- Is `url` on this machine? As the server decides it: localhost, 127.0.0.0/8, ::1.
local function is_local(url)
  local authority = url:match('^%a[%w+.-]*://([^/?#]+)') or ''
  authority = authority:gsub('^.*@', '')
  local host = authority:match('^%[([^%]]+)%]') or authority:gsub(':%d*$', '')
  host = host:lower():gsub('%.$', '')
  return host == 'localhost'
    or host:match('%.localhost$') ~= nil
    or host:match('^127%.%d+%.%d+%.%d+$') ~= nil
    or host == '::1'
    or host:match('^::ffff:127%.%d+%.%d+%.%d+$') ~= nil
end

local function env_set(name)
  local value = vim.env[name]
  return value ~= nil and value ~= ''
end

--- The key of the `openai` backend: the variable `llm.apiKeyEnv` names, else OPENAI_API_KEY
--- for a remote endpoint; a local endpoint needs none. Names only, never a value.
local function check_openai(llm)
  local base_url = type(llm.baseUrl) == 'string' and llm.baseUrl ~= '' and llm.baseUrl or DEFAULT_BASE_URL
  local url = display_url(base_url)
  if type(llm.model) == 'string' and llm.model ~= '' then
    vim.health.info('openai backend: ' .. url .. ', model ' .. llm.model)
  else
    vim.health.warn('openai backend: ' .. url .. ', and llm.model is not set: its default is an Anthropic model', {
      "set llm.model to a model the server has, e.g. 'qwen2.5-coder:7b' (`ollama list` shows them)",
    })
  end
  if not url:match('/v1$') then
    vim.health.warn('llm.baseUrl does not end in /v1: ' .. url, { 'for example http://localhost:11434/v1 (Ollama)' })
  end
  local local_endpoint = is_local(base_url)
  local name = type(llm.apiKeyEnv) == 'string' and llm.apiKeyEnv ~= '' and llm.apiKeyEnv or nil
  if name then
    if env_set(name) then
      vim.health.ok(name .. ' is set (llm.apiKeyEnv): the key for ' .. url)
    elseif local_endpoint then
      vim.health.warn(name .. ' (llm.apiKeyEnv) is not set: no key is sent to ' .. url,
        { 'set ' .. name .. ' in the environment Neovim is started from' })
    else
      vim.health.error(name .. ' (llm.apiKeyEnv) is not set: ' .. url .. ' needs a key',
        { 'set ' .. name .. ' in the environment Neovim is started from' })
    end
  elseif local_endpoint then
    vim.health.ok('local endpoint: no key needed (OPENAI_API_KEY is not sent to it; llm.apiKeyEnv names a key if the server wants one)')
  elseif env_set('OPENAI_API_KEY') then
    vim.health.ok('OPENAI_API_KEY is set: the key for ' .. url)
  else
    vim.health.error('no OPENAI_API_KEY: ' .. url .. ' needs a key', {
      'set OPENAI_API_KEY in the environment Neovim is started from',
      'or name another variable with llm.apiKeyEnv',
    })
  end
end

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
  local plugin = require('drain_ls').options or {}
  local options = plugin.init_options or config.init_options or {}
  if vim.tbl_isempty(options) then
    -- settings = { drainLs = { ... } } without init_options
    options = (plugin.settings or config.settings or {}).drainLs or {}
  end
  local llm = options.llm or {}
  if llm.enabled then
    vim.health.ok('LLM drains enabled (backend: ' .. (llm.backend or 'offline') .. ')')
  else
    vim.health.info('LLM drains disabled (llm.enabled = false): static checks only')
  end
  if llm.backend == 'openai' then
    check_openai(llm)
  elseif vim.env.ANTHROPIC_API_KEY and vim.env.ANTHROPIC_API_KEY ~= '' then
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
