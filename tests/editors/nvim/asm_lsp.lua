-- asm-lsp for Neovim >= 0.7, no plugins needed. docs/editors.md shows this file;
-- tests/editors/test_neovim.py loads it unchanged, so the documented snippet is the tested one.
-- Put it in your init.lua (or `dofile` it). Neovim detects *.s / *.S as filetype `asm`.
local function root_dir(path)
  -- The nearest folder holding .git, else the file's own folder (0.7 has no vim.fs).
  local git = vim.fn.finddir('.git', vim.fn.fnamemodify(path, ':p:h') .. ';')
  if git ~= '' then
    return vim.fn.fnamemodify(git, ':p:h:h')
  end
  return vim.fn.fnamemodify(path, ':p:h')
end

local clients = {} -- root folder -> client id, for 0.7 (vim.lsp.start reuses clients itself)

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'asm',
  callback = function(args)
    local path = vim.api.nvim_buf_get_name(args.buf)
    if path == '' then
      return
    end
    local config = {
      name = 'asm-lsp',
      cmd = vim.g.asm_lsp_cmd or { 'asm-lsp', '--stdio' },
      root_dir = root_dir(path),
      -- Settings of section `asmLsp` (README.md lists them all); unset fields keep their defaults.
      init_options = vim.g.asm_lsp_settings or {
        completion = { mode = 'both' },
        diagnostics = { debounceMs = 300 },
      },
    }
    if vim.lsp.start then -- 0.8+
      vim.lsp.start(config, { bufnr = args.buf })
      return
    end
    local id = clients[config.root_dir]
    if not id or not vim.lsp.get_client_by_id(id) then
      id = vim.lsp.start_client(config)
      clients[config.root_dir] = id
    end
    if id then
      vim.lsp.buf_attach_client(args.buf, id)
    end
  end,
})
