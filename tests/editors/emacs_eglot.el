;;; Drives asm-lsp through eglot in batch Emacs and writes what it saw as JSON.
;;; Run by tests/editors/test_emacs.py (which asserts on the JSON) as
;;;   emacs --batch -l tests/editors/emacs_eglot.el
;;; Environment: ASM_LSP_CHECK_WORKSPACE (a copy of tests/fixtures/workspace plus broken.s),
;;; ASM_LSP_CHECK_RESULT (the JSON file to write), ASM_LSP_CHECK_CMD (server command, JSON list).
;;; Batch Emacs runs no commands and no idle timers, so the script does by hand what they
;;; would: post-command-hook (eglot-ensure connects there), didChange, flymake-start.
;;; Positions are LSP positions (0-based line, UTF-16 column; the fixtures are ASCII).
(require 'json)
(require 'subr-x)

(defvar asm-lsp-command)
(defvar asm-lsp-settings)
(defvar check-result (make-hash-table :test 'equal))
(defvar check-messages nil)
(defconst check-here (file-name-directory (or load-file-name buffer-file-name)))

(defun check-wait (predicate seconds)
  "Process events until PREDICATE returns non-nil or SECONDS pass; return its value."
  (let ((deadline (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    value))

(defun check-at (line character)
  (list :textDocument (list :uri (eglot--path-to-uri buffer-file-name))
        :position (list :line line :character character)))

(defun check-open (name)
  (find-file (expand-file-name name (getenv "ASM_LSP_CHECK_WORKSPACE")))
  (run-hooks 'post-command-hook)
  (puthash (concat "attached_" name)
           (if (check-wait (lambda () (and (eglot-current-server) eglot--managed-mode)) 15) t :json-false)
           check-result)
  (current-buffer))

(defun check-diagnostics ()
  (vconcat (mapcar (lambda (d)
                     (list (cons "line" (1- (line-number-at-pos (flymake-diagnostic-beg d))))
                           (cons "type" (symbol-name (flymake-diagnostic-type d)))
                           (cons "text" (flymake-diagnostic-text d))))
                   (flymake-diagnostics))))

(defun check-run ()
  (setq asm-lsp-command (append (json-parse-string (getenv "ASM_LSP_CHECK_CMD") :array-type 'list) nil))
  ;; One bad value on purpose: its warning (window/showMessage) proves the options reach the server.
  (setq asm-lsp-settings '(:diagnostics (:debounceMs 50) :completion (:maxLines "eight")))
  (load (expand-file-name "emacs/asm-lsp.el" check-here) nil t)
  (require 'eglot)
  (puthash "emacs" emacs-version check-result)
  (puthash "eglot" (locate-library "eglot") check-result)
  (cl-defmethod eglot-handle-notification :before
    (_server (_method (eql window/showMessage)) &key message &allow-other-keys)
    (push message check-messages))
  (with-current-buffer (check-open "main.s")
    (puthash "mode" (symbol-name major-mode) check-result)
    (let ((server (eglot-current-server)))
      (unless server (error "eglot did not connect to asm-lsp within 15 s"))
      (let ((hover (jsonrpc-request server :textDocument/hover (check-at 8 2) :timeout 10)))
        (puthash "hover" (plist-get (plist-get hover :contents) :value) check-result))
      (let ((definition nil))
        (check-wait (lambda ()
                      (setq definition (jsonrpc-request server :textDocument/definition (check-at 10 6) :timeout 10))
                      (> (length definition) 0))
                    10)
        (puthash "definition_uri" (and (> (length definition) 0) (plist-get (aref definition 0) :uri)) check-result))
      (let* ((completion (jsonrpc-request server :textDocument/completion (check-at 8 2) :timeout 10))
             (items (if (vectorp completion) completion (plist-get completion :items))))
        (puthash "completion_has_add"
                 (if (seq-find (lambda (item) (equal (plist-get item :label) "add")) items) t :json-false)
                 check-result))
      ;; The editor's own go-to-definition: xref through eglot, on `bl sum_array'.
      (goto-char (point-min))
      (forward-line 10)
      (forward-char 6)
      (call-interactively #'xref-find-definitions)
      (puthash "jump_buffer" (buffer-name) check-result)
      (puthash "jump_line" (line-number-at-pos) check-result)
      (puthash "util_same_server" (if (eq (eglot-current-server) server) t :json-false) check-result)
      ;; A broken buffer: the assembler's error reaches flymake, and goes once the line is removed.
      (with-current-buffer (check-open "broken.s")
        (goto-char (point-min))
        (forward-line 6)
        (insert "\tbogus\tx1\n")
        (eglot--signal-textDocument/didChange)
        (check-wait (lambda () (flymake-start) (flymake-diagnostics)) 15)
        (puthash "broken_diagnostics" (check-diagnostics) check-result)
        (forward-line -1)
        (delete-region (line-beginning-position) (line-beginning-position 2))
        (eglot--signal-textDocument/didChange)
        (puthash "broken_cleared"
                 (if (check-wait (lambda () (flymake-start) (null (flymake-diagnostics))) 15) t :json-false)
                 check-result))
      ;; Emacs 28's jsonrpc deletes the process right after `exit' ("exited with status 9").
      (eglot-shutdown server)
      (puthash "server_stopped" (if (jsonrpc-running-p server) :json-false t) check-result))))

(condition-case err
    (check-run)
  (error (puthash "error" (error-message-string err) check-result)))
(puthash "messages" (vconcat (reverse check-messages)) check-result)
(with-temp-file (getenv "ASM_LSP_CHECK_RESULT")
  (insert (json-encode check-result)))
(kill-emacs 0)
