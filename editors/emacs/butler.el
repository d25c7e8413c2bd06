;;; butler.el --- Dictation and daily notes with Butler  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.2") (eglot "1.9"))
;; Keywords: convenience, tools
;; URL: docs/editors/emacs.md in the Butler repository

;;; Commentary:

;; Butler (`butler-ls') is a language server for dictation and daily notes.
;; This file starts it through eglot for the modes you write in and gives its
;; commands the Emacs way: `M-x butler-today', `butler-note', `butler-dictate',
;; `butler-voice-note', `butler-stop', `butler-cancel', `butler-transcribe-file'
;; and `butler-status', all under the prefix `C-c b' while `butler-mode' is on,
;; and the dictation state in the mode line.
;;
;;   (add-to-list 'load-path "~/src/butler/editors/emacs")
;;   (require 'butler)
;;   (butler-mode 1)
;;
;; Then `M-x eglot' (or `eglot-ensure' from a mode hook) in a Markdown or text
;; buffer.
;; Errors from the server come back as sentences in the echo area.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'project)
(require 'subr-x)

;; Emacs 30's name for `eglot-confirm-server-initiated-edits': declared so that
;; a `let' binds it dynamically on every version.
(defvar eglot-confirm-server-edits)

(defgroup butler nil
  "Dictation and daily notes through Butler's language server."
  :group 'tools
  :prefix "butler-")

(defcustom butler-program '("butler-ls")
  "The command that starts Butler's language server: program and arguments."
  :type '(repeat string))

(defcustom butler-major-modes '(markdown-mode gfm-mode text-mode org-mode)
  "The major modes whose buffers Butler serves.
Eglot runs one server per buffer, so a mode given to Butler is not given to
another server (such as marksman) at the same time."
  :type '(repeat symbol))

(defcustom butler-initialization-options nil
  "The `butler' object of Butler's configuration, as a plist, read at start.
For example (:notes (:directory \"~/notes/daily\")).  Lists are vectors;
false is `:json-false'.  Settings that change while the server runs go in
`eglot-workspace-configuration' under `:butler'."
  :type 'sexp)

(defcustom butler-command-timeout 300
  "Seconds to wait for the answer of one of Butler's commands.
Stopping a dictation or transcribing a file answers once all the text is in."
  :type 'number)

(defcustom butler-keymap-prefix "C-c b"
  "The prefix of `butler-command-map' while `butler-mode' is on.
Set it before `butler-mode' is turned on (or turn the mode off and on again)."
  :type 'string)

(defcustom butler-join-notes t
  "Non-nil: a daily note visited while Butler runs joins that server.
Eglot starts one server per project; the notes folder is usually outside the
project, so without this a note gets a second Butler server of its own."
  :type 'boolean)

;;;; The server

(defclass butler-server (eglot-lsp-server) ()
  "Eglot's connection to Butler: edits apply unasked, notifications are read.")

(cl-defmethod eglot-initialization-options ((_server butler-server))
  "Send `butler-initialization-options' as Butler's initializationOptions."
  (or butler-initialization-options eglot--{}))

(cl-defmethod eglot-handle-request
  ((_server butler-server) (_method (eql workspace/applyEdit)) &rest _params)
  "Apply Butler's edits (dictated words, note entries) without asking."
  (let ((eglot-confirm-server-initiated-edits nil)
        (eglot-confirm-server-edits nil))
    (cl-call-next-method)))

(defvar butler--servers nil
  "Butler servers that eglot started, the most recently used first.")

(defvar butler--notes-directories nil
  "The notes folders Butler's servers reported, as directory names.")

(defun butler--contact ()
  "Eglot's contact for Butler."
  (cons 'butler-server butler-program))

(defun butler--server-programs-entry ()
  "The entry of `eglot-server-programs' that starts Butler."
  (cons butler-major-modes (butler--contact)))

(defun butler--live-servers ()
  "The live Butler servers, the most recently used first."
  (setq butler--servers (cl-remove-if-not #'jsonrpc-running-p butler--servers)))

(defun butler--connected (server)
  "Remember SERVER if it is Butler's, and ask it where its notes are."
  (when (cl-typep server 'butler-server)
    (push server butler--servers)
    (jsonrpc-async-request
     server :workspace/executeCommand '(:command "butler.status" :arguments [])
     :success-fn (lambda (status) (butler--learn-notes-directory status))
     :error-fn #'ignore
     :timeout-fn #'ignore)))

(defun butler--learn-notes-directory (status)
  "Remember the notes folder of STATUS, an answer of butler.status."
  (when-let ((directory (plist-get (plist-get status :notes) :directory)))
    (cl-pushnew (file-name-as-directory (expand-file-name directory))
                butler--notes-directories :test #'string=)))

(defun butler--note-project (directory)
  "The project of a running Butler server, when DIRECTORY holds Butler's notes.
On `project-find-functions' while eglot looks for a buffer's server, so that
a daily note joins the running server instead of starting a second one."
  (when (and butler-join-notes
             (bound-and-true-p eglot-lsp-context)
             (memq major-mode butler-major-modes))
    (let ((directory (file-name-as-directory (expand-file-name directory))))
      (when-let ((server (and (cl-some (lambda (notes)
                                         (string-prefix-p notes directory))
                                       butler--notes-directories)
                              (car (butler--live-servers)))))
        (eglot--project server)))))

(defun butler--server ()
  "The Butler server of this buffer, else the one used last; error if none."
  (let ((here (eglot-current-server)))
    (cond ((cl-typep here 'butler-server)
           (setq butler--servers (cons here (delq here butler--servers)))
           here)
          ((car (butler--live-servers)))
          (t (user-error "Butler is not running: M-x eglot in a Markdown or \
text buffer starts it (is `butler-mode' on?)")))))

;;;; Commands

(defun butler--error-message (err)
  "The sentence Butler gave in ERR, a `jsonrpc-error' signal."
  ;; The data: maybe a string ("request id=6 failed:"), then an alist.
  (let* ((data (cl-remove-if-not #'consp (cdr err)))
         (message (alist-get 'jsonrpc-error-message data)))
    (cond ((equal message "Timed out")
           (format "no answer within %s s (`butler-command-timeout'); the \
server may be busy, M-x butler-status tells" butler-command-timeout))
          (message)
          (t (format "%S" (cdr err))))))

(defun butler-command (command &optional argument)
  "Run Butler's COMMAND with ARGUMENT (a plist) and return its answer.
A refused or failed command signals a `user-error' with Butler's message."
  (let ((server (butler--server)))
    (condition-case err
        (jsonrpc-request server :workspace/executeCommand
                         (list :command command
                               :arguments (if argument (vector argument) []))
                         :timeout butler-command-timeout)
      (jsonrpc-error
       (user-error "Butler: %s" (butler--error-message err))))))

(defun butler--here ()
  "This buffer and point as Butler's `uri' and `position'."
  (unless (and (bound-and-true-p eglot--managed-mode)
               (cl-typep (eglot-current-server) 'butler-server))
    (user-error "Butler does not serve this buffer: M-x eglot here (a mode of \
`butler-major-modes'), or M-x butler-voice-note dictates into today's note"))
  (let ((params (eglot--TextDocumentPositionParams)))
    (list :uri (plist-get (plist-get params :textDocument) :uri)
          :position (plist-get params :position))))

;;;###autoload
(defun butler-today (&optional date)
  "Open the daily note of DATE: today, or another day.
DATE is as Butler reads it: \"yesterday\", \"2026-03-04\", \"-3\", \"friday\"."
  (interactive (list (read-string "Day (today): " nil nil "today")))
  (let ((answer (butler-command "butler.note.open"
                                (list :date (or date "today")))))
    (find-file (plist-get answer :path))))

;;;###autoload
(defun butler-note (text)
  "Add TEXT as a timestamped entry to today's note (its buffer if open)."
  (interactive "sAdd to today's note: ")
  (let ((answer (butler-command "butler.note.append" (list :text text))))
    (message "Butler: added to %s"
             (abbreviate-file-name (plist-get answer :path)))
    answer))

;;;###autoload
(defun butler-dictate (&optional file)
  "Start dictating at point, or stop once the last words are in.
With a prefix argument, ask for a recording FILE and dictate it at point
instead of the microphone."
  (interactive (list (and current-prefix-arg
                          (read-file-name "Dictate from recording: "
                                          nil nil t))))
  (if file
      (butler-command "butler.dictation.start"
                      (append (butler--here)
                              (list :audioFile (expand-file-name file))))
    (butler-command "butler.dictation.toggle" (butler--here))))

;;;###autoload
(defun butler-voice-note (&optional file)
  "Start or stop dictating into today's note, one entry per utterance.
With a prefix argument, dictate a recording FILE instead."
  (interactive (list (and current-prefix-arg
                          (read-file-name "Voice note from recording: "
                                          nil nil t))))
  (if file
      (butler-command "butler.dictation.start"
                      (list :target "dailyNote"
                            :audioFile (expand-file-name file)))
    (butler-command "butler.dictation.toggle" '(:target "dailyNote"))))

(defun butler-stop ()
  "Stop dictating once everything said is in."
  (interactive)
  (butler-command "butler.dictation.stop" (butler--session-argument)))

(defun butler-cancel ()
  "Stop dictating now and drop what is not in yet."
  (interactive)
  (butler-command "butler.dictation.cancel" (butler--session-argument)))

;;;###autoload
(defun butler-transcribe-file (file)
  "Transcribe the recording FILE at point.
Where Butler does not serve this buffer, into a text file beside FILE."
  (interactive (list (read-file-name "Transcribe recording: " nil nil t)))
  (let* ((path (expand-file-name file))
         (served (and (bound-and-true-p eglot--managed-mode)
                      (cl-typep (eglot-current-server) 'butler-server)))
         (answer (butler-command "butler.transcribeFile"
                                 (if served
                                     (append (list :path path) (butler--here))
                                   (list :path path :target "newDocument")))))
    (when-let ((written (plist-get answer :path)))
      (unless served (find-file written)))
    answer))

(defun butler-status ()
  "Show Butler's status in the buffer *butler-status*."
  (interactive)
  (let ((status (butler-command "butler.status")))
    (butler--learn-notes-directory status)
    (with-current-buffer (get-buffer-create "*butler-status*")
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert (pp-to-string status))
        (goto-char (point-min))
        (special-mode))
      (display-buffer (current-buffer)))))

;;;; Dictation state

(defvar butler--state nil
  "The last `butler/dictationState' as a plist, nil when no dictation runs.")

(defun butler--session-argument ()
  "The argument of stop and cancel: the running session's id, if one is known."
  (if-let ((id (plist-get butler--state :sessionId)))
      (list :sessionId id)
    eglot--{}))

(defun butler--language-tag ()
  "The dictation's language for the mode line (\" FR\"), when detected or not English."
  (let ((language (plist-get butler--state :language))
        (detected (plist-get butler--state :languageDetected)))
    (if (and (stringp language)
             (or (eq detected t) (not (equal language "en"))))
        (concat " " (upcase language))
      "")))

(defun butler-mode-line ()
  "Butler's part of the mode line: its name, and the dictation state and language."
  (let ((state (plist-get butler--state :state))
        (pending (or (plist-get butler--state :pending) 0)))
    (pcase state
      ("listening" (format " Butler[listening%s%s]"
                           (if (> pending 0) (format " …%d" pending) "")
                           (butler--language-tag)))
      ("transcribing" (format " Butler[…%d%s]" pending (butler--language-tag)))
      ("error" " Butler[error]")
      (_ " Butler"))))

(cl-defmethod eglot-handle-notification
  ((_server butler-server) (_method (eql butler/dictationState)) &rest state
   &key message &allow-other-keys)
  "Keep Butler's dictation STATE for the mode line; show its MESSAGE."
  (setq butler--state (if (equal (plist-get state :state) "idle") nil state))
  (when message
    (message "Butler dictation: %s" message))
  (force-mode-line-update t))

;;;; The mode

(defvar butler-command-map
  (let ((map (make-sparse-keymap)))
    (define-key map "d" #'butler-dictate)
    (define-key map "v" #'butler-voice-note)
    (define-key map "s" #'butler-stop)
    (define-key map "c" #'butler-cancel)
    (define-key map "t" #'butler-today)
    (define-key map "n" #'butler-note)
    (define-key map "f" #'butler-transcribe-file)
    (define-key map "?" #'butler-status)
    map)
  "Butler's commands, under `butler-keymap-prefix' while `butler-mode' is on.")
(fset 'butler-command-map butler-command-map)

(defconst butler--markdown-as-text '("\\.md\\'" . text-mode)
  "Where markdown-mode is not installed, Markdown files open in `text-mode'.")

(defvar butler-mode-map (make-sparse-keymap)
  "The keymap of `butler-mode': `butler-command-map' under its prefix.")

;;;###autoload
(define-minor-mode butler-mode
  "Butler's dictation and daily notes through eglot, in every buffer.
Registers `butler-ls' with eglot for `butler-major-modes', binds
`butler-command-map' under `butler-keymap-prefix' and shows the dictation
state in the mode line.

\\{butler-command-map}"
  :global t
  :group 'butler
  :lighter (:eval (butler-mode-line))
  :keymap butler-mode-map
  (setq eglot-server-programs
        (cl-remove-if (lambda (entry)
                        (eq (car-safe (cdr entry)) 'butler-server))
                      eglot-server-programs))
  (setcdr butler-mode-map nil)
  (remove-hook 'eglot-connect-hook #'butler--connected)
  (remove-hook 'project-find-functions #'butler--note-project)
  (setq auto-mode-alist (delete butler--markdown-as-text auto-mode-alist))
  (when butler-mode
    (push (butler--server-programs-entry) eglot-server-programs)
    ;; Daily notes are Markdown: without markdown-mode, .md would open in
    ;; fundamental-mode, which no server manages.
    (unless (fboundp 'markdown-mode)
      (add-to-list 'auto-mode-alist butler--markdown-as-text t))
    (define-key butler-mode-map (kbd butler-keymap-prefix) 'butler-command-map)
    (add-hook 'eglot-connect-hook #'butler--connected)
    (add-hook 'project-find-functions #'butler--note-project)))

(provide 'butler)
;;; butler.el ends here
