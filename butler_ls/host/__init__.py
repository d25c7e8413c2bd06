"""The plugin host: manifests, the dependency graph, the plugin manager, the capability
registry and the event bus; what a plugin sees is ``butler_ls.plugin_api``."""
