"""Built-in plugin ``task_queue``: background jobs and the worker process."""
