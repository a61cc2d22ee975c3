-- drain-ls: setup, the drain/status handler, a status line component and buffer commands.
local M = {}

--- The last drain/status the server sent.
M.state = { state = 'disabled', pending = 0, running = 0, consumedTokens = 0, budgetTokens = 0, costUsd = 0 }

--- A status line component: "drain: idle 1,234/180,000 tok $0.012 (3 queued)".
function M.status()
  local s = M.state or {}
  if s.state == nil or s.state == 'disabled' then
    return ''
  end
  local text = string.format(
    'drain: %s %d/%d tok $%.3f',
    s.state,
    s.consumedTokens or 0,
    s.budgetTokens or 0,
    s.costUsd or 0
  )
  if (s.pending or 0) > 0 then
    text = text .. string.format(' (%d queued)', s.pending)
  end
  return text
end

local function client_for(buf)
  return vim.lsp.get_clients({ bufnr = buf, name = 'drain_ls' })[1]
end

--- Run a drain.* command on the server; `on_result(result)` gets its answer.
function M.execute(buf, command, arguments, on_result)
  local client = client_for(buf)
  if not client then
    vim.notify('drain-ls is not attached to this buffer', vim.log.levels.WARN)
    return
  end
  client:request('workspace/executeCommand', { command = command, arguments = arguments }, function(err, result)
    if err then
      vim.notify('drain-ls: ' .. (err.message or tostring(err)), vim.log.levels.ERROR)
      return
    end
    if result and result.state then
      M.state = vim.tbl_extend('force', M.state, result)
      vim.cmd.redrawstatus()
    end
    if on_result then
      on_result(result)
    end
  end, buf)
end

--- Show lines in a floating window (closed with q).
function M.float(lines, title)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  local width = 20
  for _, line in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(line))
  end
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = math.min(width + 2, vim.o.columns - 4),
    height = math.min(#lines, vim.o.lines - 4),
    row = 2,
    col = 2,
    border = 'rounded',
    title = title,
    style = 'minimal',
  })
  vim.keymap.set('n', 'q', function()
    vim.api.nvim_win_close(win, true)
  end, { buffer = buf })
  return win
end

local function report_lines(report)
  local lines = {}
  for _, day in ipairs(report.perDay or {}) do
    table.insert(lines, string.format('%s  %8d tokens  $%.4f  %d done %d cancelled %d failed',
      day.day, day.totalTokens, day.costUsd, day.completed, day.cancelled, day.failed))
  end
  local total = report.total or {}
  table.insert(lines, string.format('total       %8d tokens  $%.4f  %d wasted  %d saved by the cache',
    total.totalTokens or 0, total.costUsd or 0, total.wastedTokens or 0, total.savedTokens or 0))
  local left = report.budgetLeftToday or {}
  table.insert(lines, string.format('budget left today: %d tokens, $%.4f', left.tokens or 0, left.usd or 0))
  local entries = report.entries or {}
  if #entries > 0 then
    table.insert(lines, '')
    table.insert(lines, 'latest entries (custom drains, commit reviews):')
    for _, entry in ipairs(entries) do
      local scope = entry.scope == '<module>' and '' or (' ' .. entry.scope)
      table.insert(lines, string.format('%s  %s%s', entry.drain, vim.fn.fnamemodify(entry.path, ':~:.'), scope))
      for _, line in ipairs(vim.split(entry.text, '\n', { plain = true })) do
        table.insert(lines, '  ' .. line)
      end
    end
  end
  return lines
end

--- Buffer-local commands, created when drain-ls attaches.
function M.attach(buf)
  local function cmd(name, fn, desc)
    vim.api.nvim_buf_create_user_command(buf, name, fn, { desc = desc })
  end
  cmd('DrainRun', function() M.execute(buf, 'drain.runNow') end, 'drain-ls: run the drains now')
  cmd('DrainPause', function() M.execute(buf, 'drain.pause') end, 'drain-ls: pause the drains')
  cmd('DrainResume', function() M.execute(buf, 'drain.resume') end, 'drain-ls: resume the drains')
  cmd('DrainCancel', function() M.execute(buf, 'drain.cancelAll') end, 'drain-ls: cancel running drains')
  cmd('DrainReport', function()
    M.execute(buf, 'drain.report', { 7 }, function(report)
      M.float(report_lines(report or {}), ' drain-ls report ')
    end)
  end, 'drain-ls: the cost report')
  cmd('DrainPreview', function()
    M.execute(buf, 'drain.preview', { vim.uri_from_bufnr(buf) }, function(result)
      local lines = {}
      for _, p in ipairs((result or {}).previews or {}) do
        table.insert(lines, string.format('%s %s: at most %d tokens, $%.5f', p.drain, p.qualname,
          p.worstCaseTokens, p.worstCaseUsd))
        for _, message in ipairs(p.request.messages) do
          for _, line in ipairs(vim.split(message.content, '\n')) do
            table.insert(lines, '    ' .. line)
          end
        end
      end
      if #lines == 0 then
        lines = { 'nothing would be sent for this buffer' }
      end
      M.float(lines, ' drain-ls preview ')
    end)
  end, 'drain-ls: what the drains would send')
end

--- Configure and enable drain-ls. `opts`: cmd, init_options, settings, enable (default true).
function M.setup(opts)
  opts = opts or {}
  local config = {
    handlers = {
      ['drain/status'] = function(_, result)
        M.state = result
        vim.cmd.redrawstatus()
      end,
    },
  }
  for _, key in ipairs({ 'cmd', 'init_options', 'settings', 'root_markers' }) do
    if opts[key] ~= nil then
      config[key] = opts[key]
    end
  end
  if opts.init_options and not opts.settings then
    config.settings = { drainLs = opts.init_options }
  end
  vim.lsp.config('drain_ls', config)
  M.options = opts
  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('drain_ls', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'drain_ls' then
        M.attach(args.buf)
      end
    end,
  })
  if opts.enable ~= false then
    vim.lsp.enable('drain_ls')
  end
end

return M
