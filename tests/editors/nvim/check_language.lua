-- Drives asm-lsp's semantic tokens, signature help and rename through Neovim's own LSP
-- client and writes what it saw as JSON. Run by tests/editors/test_neovim_language.py as
--   nvim --headless --clean -u NONE -c 'luafile tests/editors/nvim/check_language.lua'
-- Environment as check_lsp.lua: ASM_LSP_CHECK_WORKSPACE (a copy of tests/fixtures/workspace),
-- ASM_LSP_CHECK_RESULT, ASM_LSP_CHECK_CMD, ASM_LSP_CHECK_CONFIG.
-- Semantic tokens are checked where Neovim has them (0.9+: vim.lsp.semantic_tokens);
-- signature help and rename on every version (0.7+). Every wait has a timeout.
-- Positions: Neovim's cursor is (1-based line, 0-based byte column); the fixtures are ASCII.
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

local function open(name)
  vim.cmd('edit ' .. vim.fn.fnameescape(workspace .. '/' .. name))
  local bufnr = vim.api.nvim_get_current_buf()
  result['attached_' .. name] = vim.wait(15000, function() return ready_client(bufnr) ~= nil end, 50)
  return bufnr
end

local function floating_text()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      local buf = vim.api.nvim_win_get_buf(win)
      return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'), buf
    end
  end
end

local function close_floats()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      vim.api.nvim_win_close(win, true)
    end
  end
end

-- The semantic token Neovim holds at a (0-based) line and byte column: its type and modifiers.
local function token_at(bufnr, line, col)
  for _, token in ipairs(vim.lsp.semantic_tokens.get_at_pos(bufnr, line, col) or {}) do
    local modifiers = {}
    for name, on in pairs(token.modifiers or {}) do
      if on then
        table.insert(modifiers, name)
      end
    end
    table.sort(modifiers)
    return { type = token.type, modifiers = modifiers, start_col = token.start_col, end_col = token.end_col }
  end
  return vim.NIL
end

local function signature_at(bufnr, line, col)
  vim.api.nvim_win_set_cursor(0, { line, col })
  close_floats()
  vim.lsp.buf.signature_help()
  local text, buf
  vim.wait(5000, function()
    text, buf = floating_text()
    return text ~= nil
  end, 50)
  local out = { text = text or vim.NIL }
  -- The highlighted (active) operand, where this Neovim marks it with an extmark.
  if buf and vim.api.nvim_buf_get_extmarks then
    local ok, marks = pcall(vim.api.nvim_buf_get_extmarks, buf, -1, 0, -1, { details = true })
    if ok then
      for _, mark in ipairs(marks) do
        local details = mark[4] or {}
        if details.hl_group == 'LspSignatureActiveParameter' then
          local line_text = vim.api.nvim_buf_get_lines(buf, mark[2], mark[2] + 1, false)[1] or ''
          out.active = line_text:sub(mark[3] + 1, details.end_col or mark[3])
        end
      end
    end
  end
  close_floats()
  return out
end

local function run()
  vim.g.asm_lsp_cmd = vim.json.decode((assert(os.getenv('ASM_LSP_CHECK_CMD'), 'ASM_LSP_CHECK_CMD not set')))
  vim.g.asm_lsp_settings = { diagnostics = { debounceMs = 50 } }
  result.notifications = {}
  local notify = vim.notify
  vim.notify = function(message, level, opts)
    table.insert(result.notifications, tostring(message))
    return notify(message, level, opts)
  end
  vim.cmd('filetype on')
  dofile(here .. '/' .. (os.getenv('ASM_LSP_CHECK_CONFIG') or 'asm_lsp.lua')) -- as in docs/editors.md

  local main = open('main.s')
  local client = ready_client(main)
  if not client then
    error('asm-lsp did not attach to main.s within 15 s')
  end
  local caps = client.server_capabilities
  result.semantic_provider = caps.semanticTokensProvider ~= nil
  result.signature_triggers = caps.signatureHelpProvider and caps.signatureHelpProvider.triggerCharacters or vim.NIL
  -- Let the workspace index fill (util.s defines sum_array and square).
  vim.wait(10000, function()
    local r = vim.lsp.buf_request_sync(main, 'workspace/symbol', { query = 'square' }, 2000) or {}
    for _, response in pairs(r) do
      return response.result and #response.result > 0
    end
  end, 200)

  if vim.lsp.semantic_tokens then -- 0.9+: the client asks for tokens itself and highlights them
    local probes = {
      mnemonic = { 10, 2 }, -- `bl` of `bl sum_array` (0-based line 10)
      call = { 10, 5 }, -- `sum_array`
      register = { 5, 5 }, -- `x29` of `stp x29, x30, [sp, -32]!`
      reloc = { 8, 14 }, -- `:lo12:`
      local_label = { 12, 11 }, -- `.Lzero`
      directive = { 1, 2 }, -- `.text`
      comment = { 0, 3 },
      function_def = { 4, 1 }, -- `main:`
      number = { 9, 9 }, -- `4` of `mov w1, 4`
    }
    local ok = vim.wait(10000, function() return token_at(main, 10, 5) ~= vim.NIL end, 100)
    result.tokens_arrived = ok
    result.tokens = {}
    for name, p in pairs(probes) do
      result.tokens[name] = token_at(main, p[1], p[2])
    end
    -- An edit: the client asks again (full/delta) and the new line gets its tokens.
    vim.api.nvim_buf_set_lines(main, 9, 9, true, { '\tcsel\tx1, x2, x3, ne' })
    vim.wait(10000, function()
      local t = token_at(main, 9, 18)
      return t ~= vim.NIL and t.type == 'enumMember'
    end, 100)
    result.tokens.after_edit = token_at(main, 9, 18)
    result.tokens.shifted_call = token_at(main, 11, 5) -- `sum_array` moved down a line
    vim.api.nvim_buf_set_lines(main, 9, 10, true, {})
  end

  -- Signature help inside `add x0, x0, :lo12:values` (line 9, 1-based), on the third operand.
  result.signature = signature_at(main, 9, 15)
  -- ... and in the first operand of `stp` (line 6).
  result.signature_stp = signature_at(main, 6, 6)

  -- Rename `square` (defined in util.s) from its call in main.s; util.s gets opened.
  vim.api.nvim_win_set_cursor(0, { 12, 5 })
  vim.lsp.buf.rename('square_it')
  local util
  vim.wait(10000, function()
    util = vim.fn.bufnr(workspace .. '/util.s')
    return util > 0 and vim.api.nvim_buf_is_loaded(util)
      and table.concat(vim.api.nvim_buf_get_lines(util, 0, -1, false), '\n'):find('square_it:') ~= nil
  end, 50)
  result.main_after_rename = vim.api.nvim_buf_get_lines(main, 11, 12, false)[1]
  result.util_after_rename = util > 0 and vim.api.nvim_buf_get_lines(util, 16, 22, false) or vim.NIL

  -- A refused rename: the cursor on a register; the server's message reaches the user.
  vim.api.nvim_set_current_buf(main)
  vim.api.nvim_win_set_cursor(0, { 9, 6 })
  local before = #result.notifications
  vim.lsp.buf.rename('foo')
  vim.wait(5000, function() return #result.notifications > before end, 50)
  result.refused_rename_message = result.notifications[before + 1] or vim.NIL
  result.main_unchanged = vim.api.nvim_buf_get_lines(main, 8, 9, false)[1]

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
