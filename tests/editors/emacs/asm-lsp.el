;;; asm-lsp with eglot: built into Emacs 29+, the `eglot' package (GNU ELPA, Debian
;;; `elpa-eglot') on Emacs 26.3-28. docs/editors.md shows this file;
;;; tests/editors/emacs_eglot.el loads it unchanged. Emacs opens *.s / *.S in `asm-mode'.
(defvar asm-lsp-command '("asm-lsp" "--stdio")
  "How to start asm-lsp, e.g. (\"python3\" \"-m\" \"asm_lsp\" \"--stdio\").")
(defvar asm-lsp-settings '(:completion (:mode "both") :diagnostics (:debounceMs 300))
  "Settings of section asmLsp (README.md), sent as initializationOptions.")
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               `(asm-mode . (,@asm-lsp-command :initializationOptions ,asm-lsp-settings))))
(add-hook 'asm-mode-hook #'eglot-ensure)
