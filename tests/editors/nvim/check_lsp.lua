-- Drives asm-lsp through Neovim's own LSP client and writes what it saw as JSON.
-- Run by tests/editors/test_neovim.py (which asserts on the JSON) as
--   nvim --headless --clean -u NONE -c 'luafile tests/editors/nvim/check_lsp.lua'
-- Environment: ASM_LSP_CHECK_WORKSPACE (a copy of tests/fixtures/workspace plus broken.s),
-- ASM_LSP_CHECK_RESULT (the JSON file to write), ASM_LSP_CHECK_CMD (the server command, JSON list),
-- ASM_LSP_CHECK_CONFIG (the configuration file in this folder to load, default asm_lsp.lua).
-- Works on Neovim 0.7 (vim.lsp.start_client) through 0.11 (vim.lsp.start); every wait has a timeout.
-- Positions below are LSP positions (0-based line, UTF-16 column; the fixtures are ASCII).
local workspace = assert(os.getenv('ASM_LSP_CHECK_WORKSPACE'), 'ASM_LSP_CHECK_WORKSPACE not set')
local result_path = assert(os.getenv('ASM_LSP_CHECK_RESULT'), 'ASM_LSP_CHECK_RESULT not set')
local here = debug.getinfo(1, 'S').source:sub(2):match('(.*)/') or '.'

local result = { nvim = tostring(vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch) }

local function clients_of(bufnr)
  if vim.lsp.get_clients then -- 0.10+
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  return vim.tbl_values(vim.lsp.buf_get_clients(bufnr))
end

local function ready_client(bufnr)
  local c = clients_of(bufnr)[1]
  if c and c.server_capabilities and next(c.server_capabilities) then
    return c
  end
end

local function request(bufnr, method, params)
  local responses = vim.lsp.buf_request_sync(bufnr, method, params, 10000) or {}
  for _, response in pairs(responses) do
    return response.result, response.err and response.err.message
  end
end

local function at(bufnr, line, character)
  return { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = line, character = character } }
end

local function open(name)
  vim.cmd('edit ' .. vim.fn.fnameescape(workspace .. '/' .. name))
  local bufnr = vim.api.nvim_get_current_buf()
  result['attached_' .. name] = vim.wait(15000, function() return ready_client(bufnr) ~= nil end, 50)
  return bufnr
end

local function diagnostics_of(bufnr)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(out, { lnum = d.lnum, col = d.col, message = d.message, source = d.source, severity = d.severity })
  end
  return out
end

local function run()
  vim.g.asm_lsp_cmd = vim.json.decode((assert(os.getenv('ASM_LSP_CHECK_CMD'), 'ASM_LSP_CHECK_CMD not set')))
  -- One bad value on purpose: its warning (window/showMessage) proves init_options reach the server.
  vim.g.asm_lsp_settings = { diagnostics = { debounceMs = 50 }, completion = { maxLines = 'eight' } }
  result.messages = {}
  vim.lsp.handlers['window/showMessage'] = function(_, params)
    table.insert(result.messages, params.message)
  end
  vim.cmd('filetype on')
  dofile(here .. '/' .. (os.getenv('ASM_LSP_CHECK_CONFIG') or 'asm_lsp.lua')) -- as in docs/editors.md

  local main = open('main.s')
  result.filetype = vim.bo[main].filetype
  local client = ready_client(main)
  if not client then
    error('asm-lsp did not attach to main.s within 15 s')
  end
  result.client_name = client.name
  -- 0.11 pulls diagnostics (textDocument/diagnostic); 0.7 leaves the server to push them.
  result.pull_diagnostics = (client.config.capabilities or vim.lsp.protocol.make_client_capabilities())
    .textDocument.diagnostic ~= nil

  -- Hover on `add` of `add x0, x0, :lo12:values` (main.s line 8).
  local hover, hover_err = request(main, 'textDocument/hover', at(main, 8, 2))
  result.hover = hover and hover.contents or hover_err

  -- Definition of `sum_array` in `bl sum_array` (line 10); the workspace index may still be filling.
  local definition
  vim.wait(10000, function()
    definition = request(main, 'textDocument/definition', at(main, 10, 6))
    return definition ~= nil and next(definition) ~= nil
  end, 200)
  result.definition = definition

  -- Completion after `\ta` of that same `add` line.
  local completion = request(main, 'textDocument/completion', at(main, 8, 2))
  local items = completion and (completion.items or completion) or {}
  result.completion_labels = {}
  for _, item in ipairs(items) do
    table.insert(result.completion_labels, item.label)
  end

  -- The editor's own go-to-definition: the cursor should land on `sum_array:` in util.s.
  vim.api.nvim_win_set_cursor(0, { 11, 6 })
  vim.lsp.buf.definition()
  vim.wait(5000, function() return vim.api.nvim_buf_get_name(0):match('util%.s$') ~= nil end, 50)
  result.jump_buffer = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ':t')
  result.jump_cursor = vim.api.nvim_win_get_cursor(0)
  local util = vim.api.nvim_get_current_buf()
  vim.wait(5000, function() return ready_client(util) ~= nil end, 50)
  result.util_client_same = ready_client(util) ~= nil and ready_client(util).id == client.id

  -- A broken buffer: the real assembler's error appears, then goes once the line is removed.
  local broken = open('broken.s')
  vim.api.nvim_buf_set_lines(broken, 6, 6, true, { '\tbogus\tx1' })
  vim.wait(15000, function() return #vim.diagnostic.get(broken) > 0 end, 50)
  result.broken_diagnostics = diagnostics_of(broken)
  vim.api.nvim_buf_set_lines(broken, 6, 7, true, {})
  result.broken_cleared = vim.wait(15000, function() return #vim.diagnostic.get(broken) == 0 end, 50)
  result.main_diagnostics = diagnostics_of(main)

  result.client_count = #clients_of(main)
  vim.lsp.stop_client(client.id)
  result.server_stopped = vim.wait(5000, function() return vim.lsp.get_client_by_id(client.id) == nil end, 50)
end

local ok, err = xpcall(run, debug.traceback)
if not ok then
  result.error = err
end
local file = assert(io.open(result_path, 'w'))
file:write(vim.json.encode(result))
file:close()
vim.cmd('qall!')
