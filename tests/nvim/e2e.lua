-- Headless Neovim end to end: drives drain-ls through Neovim's own LSP client.
-- Usage: nvim --headless --clean -u e2e.lua FILE  (env DRAIN_LS_CMD: JSON list, the server command)
local out = {}
local function finish(ok)
  io.stdout:write(vim.json.encode(out) .. "\n")
  vim.cmd(ok and "qall!" or "cquit 1")
end

vim.cmd("filetype on")
local cmd = vim.json.decode(os.getenv("DRAIN_LS_CMD"))
vim.lsp.config("drain_ls", {
  cmd = cmd,
  filetypes = { "python" },
  root_markers = { "pyproject.toml", ".git" },
  init_options = { diagnostics = { debounceMs = 0 } },
})
vim.lsp.enable("drain_ls")
vim.cmd("edit " .. vim.fn.argv(0))
local buf = vim.api.nvim_get_current_buf()

local ok = vim.wait(15000, function()
  return #vim.lsp.get_clients({ bufnr = buf, name = "drain_ls" }) > 0
end, 50)
if not ok then out.error = "no client attached" return finish(false) end
local client = vim.lsp.get_clients({ bufnr = buf, name = "drain_ls" })[1]
out.offset_encoding = client.offset_encoding

ok = vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
if not ok then out.error = "no diagnostics" return finish(false) end
out.diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(out.diagnostics, { lnum = d.lnum, col = d.col, end_col = d.end_col, code = d.code, message = d.message })
end

-- Code action on the first unused import, applied through Neovim's own edit machinery.
local target
for _, d in ipairs(vim.diagnostic.get(buf)) do
  if d.code == "F401" then target = d break end
end
local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
params.range = {
  start = { line = target.lnum, character = vim.lsp.util.character_offset(buf, target.lnum, target.col, client.offset_encoding) },
  ["end"] = { line = target.lnum, character = vim.lsp.util.character_offset(buf, target.lnum, target.end_col, client.offset_encoding) },
}
params.context = { diagnostics = {} }
local results = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 10000) or {}
local action
for _, res in pairs(results) do
  for _, a in ipairs(res.result or {}) do
    if a.title:match("^Remove unused import") and not action then action = a end
  end
end
if not action then out.error = "no code action" return finish(false) end
out.action = action.title
vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
out.lines_after_action = vim.api.nvim_buf_get_lines(buf, 0, -1, false)

-- The edit reaches the server as didChange: the finding goes away.
ok = vim.wait(15000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.message == target.message then return false end
  end
  return true
end, 50)
out.finding_gone = ok

-- Hover on the function name.
local line = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
for i, l in ipairs(line) do
  local s = l:find("def ")
  if s then
    local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      position = { line = i - 1, character = s + 3 },
    }, 10000) or {}
    for _, res in pairs(hover) do
      if res.result then out.hover = res.result.contents.value end
    end
    break
  end
end

local status = vim.lsp.buf_request_sync(buf, "workspace/executeCommand", { command = "drain.status" }, 10000) or {}
for _, res in pairs(status) do
  if res.result then out.status_documents = #res.result.documents end
end
finish(true)
