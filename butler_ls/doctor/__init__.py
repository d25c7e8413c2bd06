"""``butler-ls doctor``: checks the settings, folders, queue and worker, runs each plugin's
own checks (notes, microphone, model...), and says what to fix."""
