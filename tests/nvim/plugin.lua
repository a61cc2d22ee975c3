-- Headless Neovim: the plugin from editors/nvim, its commands, status line and health check.
-- env: DRAIN_LS_CMD (JSON list), DRAIN_LS_PLUGIN (editors/nvim)
local out = { steps = {} }
local function finish(ok)
  io.stdout:write(vim.json.encode(out) .. "\n")
  vim.cmd(ok and "qall!" or "cquit 1")
end
local function step(name, value) out.steps[name] = value end

vim.cmd("filetype on")
vim.opt.runtimepath:prepend(os.getenv("DRAIN_LS_PLUGIN"))
local drain = require("drain_ls")
drain.setup({
  cmd = vim.json.decode(os.getenv("DRAIN_LS_CMD")),
  init_options = {
    llm = { enabled = true, backend = "offline" },
    idle = { delayMs = 50 },
    diagnostics = { debounceMs = 0 },
  },
})
vim.cmd("edit " .. vim.fn.argv(0))
local buf = vim.api.nvim_get_current_buf()

if not vim.wait(15000, function() return #vim.lsp.get_clients({ bufnr = buf, name = "drain_ls" }) > 0 end, 50) then
  out.error = "no client" return finish(false)
end
-- The offline drains run when idle: the status line follows drain/status.
step("status_after_drains", vim.wait(15000, function()
  return drain.status():match("^drain: idle") and drain.state.consumedTokens ~= nil
    and (drain.state.pending or 0) == 0
end, 50) and drain.status() or drain.status())
-- "Idle with nothing pending" can come before the commit review was even found (the server
-- looks for commits on its own timer): wait for what the report window must show.
local function reviewed()
  local replies = vim.lsp.buf_request_sync(buf, "workspace/executeCommand",
    { command = "drain.report", arguments = {} }, 2000) or {}
  for _, reply in pairs(replies) do
    for _, entry in ipairs((reply.result or {}).entries or {}) do
      if entry.drain == "review" then return true end
    end
  end
  return false
end
step("reviewed", vim.wait(30000, reviewed, 100))
local commands = vim.api.nvim_buf_get_commands(buf, {})
step("commands", vim.tbl_keys(commands))

vim.cmd("DrainPause")
step("paused", vim.wait(5000, function() return drain.status():match("^drain: paused") ~= nil end, 20))
vim.cmd("DrainResume")
step("resumed", vim.wait(5000, function() return drain.status():match("^drain: paused") == nil end, 20))
vim.cmd("DrainRun")
vim.cmd("DrainCancel")

local wins = #vim.api.nvim_list_wins()
vim.cmd("DrainReport")
step("report_window", vim.wait(5000, function() return #vim.api.nvim_list_wins() > wins end, 20))
local report_buf = vim.api.nvim_win_get_buf(vim.api.nvim_get_current_win())
step("report_lines", vim.api.nvim_buf_get_lines(report_buf, 0, -1, false))
vim.cmd("normal q")

wins = #vim.api.nvim_list_wins()
vim.cmd("DrainPreview")
step("preview_window", vim.wait(5000, function() return #vim.api.nvim_list_wins() > wins end, 20))
step("preview_lines", vim.api.nvim_buf_get_lines(vim.api.nvim_get_current_buf(), 0, 3, false))
vim.cmd("normal q")

vim.cmd("checkhealth drain_ls")
step("health", table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"))
finish(true)
