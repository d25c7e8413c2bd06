"""``butler-ls doctor``: checks the microphone, model, queue, worker and folders, and says
what to fix."""
