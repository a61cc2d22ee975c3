;;; drain-ls.el --- drain-ls in Emacs through eglot  -*- lexical-binding: t; -*-

;; Copy this into your init file, or `load' it from there.  eglot is built into Emacs 29+;
;; on Emacs 28 install it first (Debian: `apt-get install elpa-eglot'; else M-x package-install).
;; `drain-ls' must be on `exec-path' (e.g. the bin/ of the virtualenv it is installed in).
;;
;; eglot runs one server per major mode: this entry goes first in `eglot-server-programs',
;; so Python buffers get drain-ls instead of eglot's default (pylsp, pyright, ...).
;;
;; Tested by test/e2e.el (run.sh): Emacs 28.2 with eglot 1.9, Emacs 30.1 with its eglot 1.17.30.

(with-eval-after-load 'eglot
  ;; Sent as initializationOptions: the same nested object as the `drainLs' section.
  ;; `:json-false' is JSON false; nil would be null.
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode)
                 . ("drain-ls"
                    :initializationOptions
                    (:llm (:enabled t :backend "offline")))))
  ;; Answered to workspace/configuration, section `drainLs'; it wins over the options above.
  ;; If you configure other servers here too, keep their sections in the same plist.
  (setq-default eglot-workspace-configuration
                '(:drainLs (:diagnostics (:debounceMs 100)
                            :privacy (:exclude ["**/secrets/**"])))))

(add-hook 'python-mode-hook #'eglot-ensure)
(add-hook 'python-ts-mode-hook #'eglot-ensure)

;;; drain-ls.el ends here
