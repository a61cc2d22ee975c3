;;; e2e.el --- drain-ls in a real Emacs through eglot, headless  -*- lexical-binding: t; -*-

;; Run by ../run.sh: emacs --batch -l test/e2e.el, with a throw-away HOME, `drain-ls' on PATH
;; and DRAIN_LS_HOME in a temporary directory.  Loads ../drain-ls.el exactly as a user would,
;; opens a Python file, and checks, through eglot and flymake:
;;   1. the settings of drain-ls.el reach the server (initializationOptions and
;;      workspace/configuration, read back with the drain.status command);
;;   2. flymake shows F401 on line 1 and D103 on line 5;
;;   3. the code action "Remove unused import `os`", picked in `eglot-code-actions' as a user
;;      would, removes the import, and the F401 diagnostic goes away;
;;   4. with the LLM drains on (offline backend), "Insert generated docstring" is offered for
;;      `main' once the editor is idle, and picking it inserts the docstring.
;; Exits 0 when all pass, 1 otherwise.

(require 'cl-lib)
(require 'subr-x)

(defvar e2e-dir (file-name-directory (or load-file-name buffer-file-name)))
(defvar e2e-failures 0)
(defvar e2e-started (float-time))

(defun e2e-log (fmt &rest args)
  (princ (format "[%5.2fs] %s\n" (- (float-time) e2e-started) (apply #'format fmt args))))

(defun e2e-check (ok fmt &rest args)
  "Report a check; count it as failed unless OK."
  (princ (format "%s %s\n" (if ok "ok  " "FAIL") (apply #'format fmt args)))
  (unless ok (cl-incf e2e-failures))
  ok)

(defvar e2e-idle-ran 0.0)

(defun e2e-run-idle-timers ()
  "What Emacs does when the user stops typing: run the idle timers (at most twice a second).
Batch Emacs is never idle, so eglot's didChange and flymake's timers would never fire."
  (when (> (- (float-time) e2e-idle-ran) 0.5)
    (setq e2e-idle-ran (float-time))
    (dolist (timer (copy-sequence timer-idle-list))
      (when (memq timer timer-idle-list)  ; not cancelled by one run before it
        (timer-event-handler timer)))))

(defun e2e-wait (what timeout pred)
  "Process events until PRED is non-nil or TIMEOUT seconds pass; return PRED's value."
  (let ((deadline (+ (float-time) timeout))
        value)
    (while (and (not (setq value (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05)
      (e2e-run-idle-timers))
    (unless value (e2e-log "timed out after %ss waiting for %s" timeout what))
    value))

(defun e2e-code-of (diag)
  "The LSP code of flymake diagnostic DIAG (eglot keeps the LSP object in its data)."
  (let ((lsp (cdr (assoc 'eglot-lsp-diag (flymake-diagnostic-data diag)))))
    (and lsp (format "%s" (plist-get lsp :code)))))

(defun e2e-codes ()
  "The (CODE . LINE) pairs of the current buffer's flymake diagnostics, sorted."
  (sort (mapcar (lambda (d)
                  (cons (e2e-code-of d) (line-number-at-pos (flymake-diagnostic-beg d))))
                (flymake-diagnostics))
        (lambda (a b) (or (< (cdr a) (cdr b))
                          (and (= (cdr a) (cdr b)) (string< (car a) (car b)))))))

(defun e2e-eglot-version ()
  "eglot's version: built in (Emacs 29+), or the header of the package's eglot.el."
  (let ((builtin (cdr (assq 'eglot package--builtin-versions))))
    (or (and builtin (mapconcat #'number-to-string builtin "."))
        (ignore-errors
          (require 'lisp-mnt)
          (with-temp-buffer
            (insert-file-contents (locate-library "eglot.el"))
            (lm-header "Version")))
        "unknown")))

;; What the user answers to eglot's prompts: recorded, and answered by picking the candidate
;; that the current step wants.
(defvar e2e-prompts nil "The (PROMPT . CANDIDATES) eglot asked, newest first.")
(defvar e2e-pick nil "Function of the candidates list returning the one to pick.")

(defun e2e-completing-read (prompt collection &rest _)
  (let ((candidates (mapcar (lambda (c) (if (consp c) (car c) c)) collection)))
    (push (cons prompt candidates) e2e-prompts)
    (e2e-log "prompt: %s -> %S" (car (split-string prompt "\n")) candidates)
    (or (and e2e-pick (funcall e2e-pick prompt candidates))
        (error "e2e: no answer for prompt %S" prompt))))

(defvar e2e-drain-status nil "The params of the last drain/status notification.")

(defun e2e-main ()
  (e2e-log "Emacs %s, eglot %s, drain-ls %s" emacs-version (e2e-eglot-version)
           (executable-find "drain-ls"))
  (unless (executable-find "drain-ls")
    (error "drain-ls is not on PATH"))
  (unless (locate-library "eglot")
    ;; Emacs 28: eglot is a package (Debian's elpa-eglot or GNU ELPA).
    (package-initialize))
  (load (expand-file-name "../drain-ls.el" e2e-dir) nil t)
  (require 'eglot)
  (require 'flymake)
  ;; The drains' state, as a mode-line segment would get it.
  (cl-defmethod eglot-handle-notification
    (_server (_method (eql drain/status)) &rest params)
    (setq e2e-drain-status params))
  (setq completing-read-function #'e2e-completing-read)
  (advice-add 'y-or-n-p :override
              (lambda (prompt) (error "e2e: unexpected question %S" prompt)))
  (let* ((project (make-temp-file "drain-ls-e2e-" t))
         (file (expand-file-name "sample.py" project))
         server buffer)
    (with-temp-file (expand-file-name "pyproject.toml" project)
      (insert "[project]\nname = \"sample\"\n"))
    ;; The repository's own .dir-locals.el tries to answer for the user.  eglot marks
    ;; `eglot-workspace-configuration' safe; drain-ls.el does not when it has a drainLs
    ;; section, so Emacs asks first (in batch Emacs: never applies it).
    (with-temp-file (expand-file-name ".dir-locals.el" project)
      (insert "((nil . ((eglot-workspace-configuration\n"
              "          . (:drainLs (:diagnostics (:debounceMs 7)\n"
              "                       :privacy (:requireConsent :json-false)))))))\n"))
    (with-temp-file file
      (insert "import os\nimport sys\n\n\ndef main():\n    print(sys.argv)\n"))
    ;; As a user: visit the file (python-mode, then eglot-ensure), then run a first command.
    (setq buffer (find-file file))
    (e2e-check (memq major-mode '(python-mode python-ts-mode)) "major mode %s" major-mode)
    (run-hooks 'post-command-hook)
    (setq server (e2e-wait "eglot to connect" 30
                           (lambda () (with-current-buffer buffer (eglot-current-server)))))
    (unless server (error "eglot did not connect to drain-ls"))
    (e2e-log "connected: %s" (jsonrpc-name server))

    ;; 1. Settings from both places reach the server.  The server asks for the drainLs section
    ;; after `initialized', so poll drain.status until the answer is applied.
    (let* ((status-of (lambda () (jsonrpc-request server :workspace/executeCommand
                                                  '(:command "drain.status" :arguments []))))
           (status (funcall status-of))
           (settings nil))
      (e2e-log "server %s, %s diagnostics, encoding %s" (plist-get status :version)
               (plist-get status :diagnosticsMode) (plist-get status :positionEncoding))
      (e2e-wait "the workspace configuration to be applied" 10
                (lambda ()
                  (setq settings (plist-get (funcall status-of) :settings))
                  (equal 100 (plist-get (plist-get settings :diagnostics) :debounceMs))))
      (e2e-check (eq t (plist-get (plist-get settings :llm) :enabled))
                 "initializationOptions: llm.enabled = t")
      (e2e-check (equal "offline" (plist-get (plist-get settings :llm) :backend))
                 "initializationOptions: llm.backend = \"offline\"")
      (e2e-check (equal 100 (plist-get (plist-get settings :diagnostics) :debounceMs))
                 "workspace/configuration: diagnostics.debounceMs = 100 (got %S)"
                 (plist-get (plist-get settings :diagnostics) :debounceMs))
      (e2e-check (equal ["**/secrets/**"] (plist-get (plist-get settings :privacy) :exclude))
                 "workspace/configuration: privacy.exclude = [\"**/secrets/**\"] (got %S)"
                 (plist-get (plist-get settings :privacy) :exclude))
      (e2e-check (eq t (plist-get (plist-get settings :privacy) :requireConsent))
                 "the project's .dir-locals.el did not answer: privacy.requireConsent = t (got %S)"
                 (plist-get (plist-get settings :privacy) :requireConsent)))
    (with-current-buffer buffer
      (e2e-check (not (local-variable-p 'eglot-workspace-configuration))
                 "the project's .dir-locals.el set no eglot-workspace-configuration in the buffer"))
    (e2e-check (and (funcall (get 'eglot-workspace-configuration 'safe-local-variable)
                             '(:pylsp (:plugins (:pylint (:enabled :json-false)))))
                    (not (funcall (get 'eglot-workspace-configuration 'safe-local-variable)
                                  '(:pylsp () :drainLs (:llm (:enabled t)))))
                    (not (funcall (get 'eglot-workspace-configuration 'safe-local-variable)
                                  '((drainLs . (:llm (:enabled t))))))
                    (not (funcall (get 'eglot-workspace-configuration 'safe-local-variable)
                                  '(lambda (_server) nil))))
               "safe as a directory-local: other servers' sections; not drainLs, not a function")

    (with-current-buffer buffer
      ;; 2. Diagnostics in flymake.
      (e2e-wait "F401 and D103 in flymake" 20
                (lambda () (and (assoc "F401" (e2e-codes)) (assoc "D103" (e2e-codes)))))
      (let ((codes (e2e-codes)))
        (e2e-log "flymake: %S" codes)
        (e2e-check (member '("F401" . 1) codes) "F401 on line 1")
        (e2e-check (member '("D103" . 5) codes) "D103 on line 5")
        (e2e-check (not (member '("F401" . 2) codes)) "no F401 for the used import on line 2"))
      (let ((f401 (cl-find "F401" (flymake-diagnostics) :key #'e2e-code-of :test #'equal)))
        (e2e-check (and f401 (string-match-p "F401.*os" (flymake-diagnostic-text f401)))
                   "F401 message: %S" (and f401 (flymake-diagnostic-text f401))))

      ;; 3. The quick fix, picked from M-x eglot-code-actions with point on `os'.
      (goto-char (point-min))
      (search-forward "os")
      (backward-char 1)
      (let ((e2e-pick (lambda (_prompt candidates)
                        (cl-find-if (lambda (c) (string-prefix-p "Remove unused import" c))
                                    candidates)))
            (last-nonmenu-event ?\r)    ; invoked from the keyboard, not a mouse menu
            (this-command 'eglot-code-actions))
        (call-interactively #'eglot-code-actions))
      (e2e-check (member "Remove unused import `os`" (cdr (car e2e-prompts)))
                 "offered: %S" (cdr (car e2e-prompts)))
      (e2e-check (equal (buffer-string) "import sys\n\n\ndef main():\n    print(sys.argv)\n")
                 "the import of os is gone: %S" (buffer-string))
      ;; Wait for the server's diagnostics of the new version (flymake keeps the old
      ;; positions until they come).
      (e2e-wait "the diagnostics of the edited file" 20
                (lambda () (let ((codes (e2e-codes)))
                             (and (member '("D100" . 1) codes) (member '("D103" . 4) codes)))))
      (let ((codes (e2e-codes)))
        (e2e-log "flymake after the fix: %S" codes)
        (e2e-check (not (assoc "F401" codes)) "no F401 after the fix")
        (e2e-check (member '("D103" . 4) codes) "D103 now on line 4"))

      ;; 4. LLM drains (offline backend: free, nothing leaves the machine, so no consent
      ;; question): after the idle delay, the drain's docstring is offered for `main'.
      (goto-char (point-min))
      (search-forward "def main")
      (let ((titles
             (e2e-wait "\"Insert generated docstring\"" 20
                       (lambda ()
                         (sleep-for 0.2)
                         (let ((titles (mapcar (lambda (a) (plist-get a :title))
                                               (eglot-code-actions (point) (point)))))
                           (and (member "Insert generated docstring" titles) titles))))))
        (e2e-log "drain/status: %S" e2e-drain-status)
        (e2e-check (member "Insert generated docstring" titles)
                   "drain result offered as a code action: %S" titles))
      (let ((e2e-pick (lambda (_prompt candidates)
                        (car (member "Insert generated docstring" candidates))))
            (last-nonmenu-event ?\r)
            (this-command 'eglot-code-actions))
        (call-interactively #'eglot-code-actions))
      (e2e-check (string-match-p "def main():\n    \"\"\"[^\n]" (buffer-string))
                 "docstring inserted: %S" (buffer-string))
      (e2e-wait "D103 to go away" 20
                (lambda () (let ((codes (e2e-codes)))
                             (and (member '("D100" . 1) codes) (not (assoc "D103" codes))))))
      (e2e-check (equal (e2e-codes) '(("D100" . 1))) "only D100 left: %S" (e2e-codes))

      (set-buffer-modified-p nil))
    (when-let ((out (getenv "E2E_EVENTS")))
      (with-current-buffer (jsonrpc-events-buffer server)
        (write-region (point-min) (point-max) out)))
    (eglot-shutdown server)
    (delete-directory project t)))

(condition-case err
    (e2e-main)
  (error (e2e-check nil "error: %s" (error-message-string err))))
(princ (format "%s checks failed, %.1fs\n" e2e-failures (- (float-time) e2e-started)))
(kill-emacs (if (zerop e2e-failures) 0 1))

;;; e2e.el ends here
