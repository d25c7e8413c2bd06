;;; emacs_driver.el --- drives a real Emacs through Butler's guide, step by step  -*- lexical-binding: t; -*-

;; Loaded by tests/e2e/test_emacs.py after the guide's init block (the user's init
;; file), in `emacs --batch'.  Each step runs as a user would run it (M-x commands,
;; the hooks the guide sets), records what it saw, and an error in one step is
;; recorded without stopping the others.  The report is written as JSON to the file
;; named by $BUTLER_TEST_REPORT; the test asserts on it.
;;
;; $BUTLER_TEST_PROJECT: a project (a git repository) with draft.md; $BUTLER_TEST_OTHER:
;; a second project whose .dir-locals.el is the guide's; $BUTLER_TEST_RECORDING: the
;; recording to dictate; $BUTLER_TEST_LISP: a file with the guide's Lisp block.

(require 'json)
(require 'subr-x)

(defvar butler-test-report nil "The report: an alist of step name to result.")
(defvar butler-test-states nil "Every dictation state and the mode line it gave.")

(defun butler-test-record (step value)
  "Record VALUE for STEP."
  (push (cons step value) butler-test-report))

(defmacro butler-test-step (name &rest body)
  "Run BODY as the step NAME: record its value, or the error it raised."
  (declare (indent 1))
  `(condition-case err
       (butler-test-record ,name (progn ,@body))
     (error (butler-test-record ,name (list (cons 'error (error-message-string err)))))))

(defun butler-test-wait (predicate seconds)
  "Let Emacs run (process output, timers) until PREDICATE holds or SECONDS pass."
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (funcall predicate)))

(defun butler-test-command-loop ()
  "What the command loop does after a command: `post-command-hook' (eglot-ensure)."
  (run-hooks 'post-command-hook))

(defun butler-test-butler-processes ()
  "How many butler-ls servers Emacs runs."
  (cl-loop for servers being the hash-values of eglot--servers-by-project
           sum (cl-count-if (lambda (s) (cl-typep s 'butler-server)) servers)))

;; The mode line as a user sees it, for every state the server sent.
(add-variable-watcher
 'butler--state
 (lambda (_symbol value _operation _where)
   (let ((butler--state value))
     (push (list (cons 'state (or (plist-get value :state) "idle"))
                 (cons 'modeLine (butler-mode-line)))
           butler-test-states))))

(let* ((project (getenv "BUTLER_TEST_PROJECT"))
       (other (getenv "BUTLER_TEST_OTHER"))
       (recording (getenv "BUTLER_TEST_RECORDING"))
       (draft (expand-file-name "draft.md" project))
       draft-buffer)

  (butler-test-step 'connect
    (setq draft-buffer (find-file draft))
    (butler-test-command-loop)
    (unless (butler-test-wait (lambda () (with-current-buffer draft-buffer
                                           (bound-and-true-p eglot--managed-mode)))
                              60)
      (error "eglot did not connect within 60 s"))
    (with-current-buffer draft-buffer
      (let ((server (eglot-current-server)))
        (list (cons 'managed t)
              (cons 'serverClass (symbol-name (eieio-object-class server)))
              (cons 'serverName (plist-get (eglot--server-info server) :name))
              (cons 'majorMode (symbol-name major-mode))
              (cons 'lighter (format "%S" (cadr (assq 'butler-mode minor-mode-alist))))
              (cons 'prefixBinding (symbol-name (key-binding (kbd "C-c b t"))))))))

  ;; Let the server answer the status request butler-mode sends on connecting.
  (butler-test-wait (lambda () butler--notes-directories) 10)

  (butler-test-step 'today
    (let ((note (with-current-buffer draft-buffer (butler-today))))
      (set-buffer note)
      (butler-test-command-loop)
      (butler-test-wait (lambda () (with-current-buffer note
                                     (bound-and-true-p eglot--managed-mode)))
                        20)
      (list (cons 'path buffer-file-name)
            (cons 'managed (if (bound-and-true-p eglot--managed-mode) t :json-false))
            (cons 'sameServer (if (eq (eglot-current-server)
                                      (with-current-buffer draft-buffer (eglot-current-server)))
                                  t :json-false))
            (cons 'servers (butler-test-butler-processes)))))

  (butler-test-step 'append
    (let ((note (find-buffer-visiting (plist-get (butler-note "called the bank") :path))))
      (with-current-buffer note
        (let* ((file buffer-file-name)
               (disk (lambda () (with-temp-buffer (insert-file-contents file)
                                                  (buffer-string))))
               (unsaved (buffer-modified-p))
               (buffer (buffer-substring-no-properties (point-min) (point-max)))
               (before (funcall disk)))
          (save-buffer)
          (list (cons 'buffer buffer)
                (cons 'unsavedBefore (if unsaved t :json-false))
                (cons 'diskBefore before)
                (cons 'diskAfterSave (funcall disk)))))))

  (butler-test-step 'dictate
    (with-current-buffer draft-buffer
      (goto-char (point-min))
      (search-forward "Notes:")
      (butler-dictate recording)
      (unless (butler-test-wait (lambda () (and (null butler--state)
                                                (assoc 'state (car butler-test-states))))
                                120)
        (error "the dictation did not end within 120 s"))
      (list (cons 'text (buffer-substring-no-properties (point-min) (point-max)))
            (cons 'states (reverse butler-test-states)))))

  (butler-test-step 'error
    (condition-case err
        (progn (butler-today "blursday") "no error")
      (user-error (error-message-string err))))

  (butler-test-step 'notServed
    (with-current-buffer (get-buffer-create "*scratch*")
      (condition-case err
          (progn (butler-dictate) "no error")
        (user-error (error-message-string err)))))

  (butler-test-step 'lispBlock
    (with-current-buffer draft-buffer
      (let ((answers nil))
        (with-temp-buffer
          (insert-file-contents (getenv "BUTLER_TEST_LISP"))
          (goto-char (point-min))
          (condition-case nil
              (while t
                (let ((form (read (current-buffer))))
                  (push (condition-case err
                            (with-current-buffer draft-buffer (eval form t))
                          (user-error (error-message-string err)))
                        answers)))
            (end-of-file nil)))
        (mapcar (lambda (answer) (if (stringp answer) answer (json-encode answer)))
                (reverse answers)))))

  (butler-test-step 'dirLocals
    (let ((buffer (find-file (expand-file-name "plan.md" other))))
      (butler-test-command-loop)
      (butler-test-wait (lambda () (with-current-buffer buffer
                                     (bound-and-true-p eglot--managed-mode)))
                        60)
      (with-current-buffer buffer
        (let ((status (butler-command "butler.status")))
          (list (cons 'notesDirectory (plist-get (plist-get status :notes) :directory))
                (cons 'servers (butler-test-butler-processes)))))))

  (with-temp-file (getenv "BUTLER_TEST_REPORT")
    (let ((json-encoding-pretty-print t))
      (insert (json-encode (reverse butler-test-report)))))
  (ignore-errors (eglot-shutdown-all)))

;;; emacs_driver.el ends here
