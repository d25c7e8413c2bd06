"""Module-style plugin whose activate() fails after providing a capability."""


def activate(ctx):
    ctx.provide("test.half", object())
    raise ValueError("this plugin is broken on purpose (activate)")
