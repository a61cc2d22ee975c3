;;; drain-ls.el --- drain-ls in Emacs through eglot  -*- lexical-binding: t; -*-

;; Copy this into your init file, or `load' it from there.  eglot is built into Emacs 29+;
;; on Emacs 28 install it first (Debian: `apt-get install elpa-eglot'; else M-x package-install).
;; `drain-ls' must be on `exec-path' (e.g. the bin/ of the virtualenv it is installed in).
;;
;; eglot runs one server per major mode: this entry goes first in `eglot-server-programs',
;; so Python buffers get drain-ls instead of eglot's default (pylsp, pyright, ...).
;;
;; Tested by test/e2e.el (run.sh): Emacs 28.2 with eglot 1.9, Emacs 30.1 with its eglot 1.17.30.
;;
;; Keep drain-ls's settings here, in your init file.  drain-ls trusts what eglot answers as
;; yours, but eglot marks `eglot-workspace-configuration' as a safe directory-local variable,
;; so a repository's own .dir-locals.el could answer for you without a question (turn the LLM
;; drains on, pick the backend, set privacy.requireConsent to false).  The predicate below
;; keeps other servers' sections safe, and makes a directory-local value with a drainLs section
;; (or a function) need your confirmation: answer no, and never `!' (that saves the value in
;; `safe-local-variable-values' for good).  With `enable-local-variables' set to :all, Emacs
;; never asks: do not use that together with drain-ls.

(defun drain-ls--mentions-p (value)
  "Non-nil if VALUE has a `drainLs' key anywhere (or is too deep or circular to tell)."
  (condition-case nil
      (cond ((symbolp value) (member (symbol-name value) '("drainLs" ":drainLs")))
            ((stringp value) (string= value "drainLs"))
            ((consp value) (or (drain-ls--mentions-p (car value))
                               (drain-ls--mentions-p (cdr value))))
            ((vectorp value) (drain-ls--mentions-p (append value nil))))
    (error t)))

(defun drain-ls-safe-workspace-configuration-p (value)
  "Whether a directory-local `eglot-workspace-configuration' VALUE may apply unasked.
Only a plain list with no drainLs section: drain-ls's settings come from your init file."
  (and (listp value) (not (functionp value)) (not (drain-ls--mentions-p value))))

;; eglot puts `listp' there when it loads (and from its autoloads): set it now and again then.
(put 'eglot-workspace-configuration 'safe-local-variable #'drain-ls-safe-workspace-configuration-p)

(with-eval-after-load 'eglot
  (put 'eglot-workspace-configuration 'safe-local-variable #'drain-ls-safe-workspace-configuration-p)
  ;; Sent as initializationOptions: the same nested object as the `drainLs' section.
  ;; `:json-false' is JSON false; nil would be null.
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode)
                 . ("drain-ls"
                    :initializationOptions
                    (:llm (:enabled t :backend "offline")))))
  ;; Answered to workspace/configuration, section `drainLs'; it wins over the options above.
  ;; Global (`setq-default', here), not in a project's .dir-locals.el.  If you configure other
  ;; servers here too, keep their sections in the same plist.
  (setq-default eglot-workspace-configuration
                '(:drainLs (:diagnostics (:debounceMs 100)
                            :privacy (:exclude ["**/secrets/**"])))))

(add-hook 'python-mode-hook #'eglot-ensure)
(add-hook 'python-ts-mode-hook #'eglot-ensure)

;;; drain-ls.el ends here
