"""Type annotations of settings fields, checked against JSON values and worded for messages."""

from __future__ import annotations

import types as pytypes
import typing
from typing import Any, Literal


def kind_of(value: Any) -> str:
    """How a JSON value reads in a message: ``an object``, ``a list``, ``null``..."""
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def type_problem(value: Any, ftype: Any) -> str | None:
    """None when ``value`` fits ``ftype``, else what was expected."""
    origin = typing.get_origin(ftype)
    if origin in (typing.Union, pytypes.UnionType):
        options = typing.get_args(ftype)
        if any(type_problem(value, option) is None for option in options):
            return None
        return "expected " + " or ".join(describe_type(option) for option in options)
    if origin is Literal:
        choices = typing.get_args(ftype)
        return None if value in choices else "expected one of " + ", ".join(map(repr, choices))
    if origin is list:
        (item,) = typing.get_args(ftype)
        if not isinstance(value, list):
            return f"expected {describe_type(ftype)}"
        if any(type_problem(v, item) is not None for v in value):
            return f"expected {describe_type(ftype)}"
        return None
    if origin is dict or ftype is dict:
        ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
        return None if ok else "expected an object"
    if ftype is type(None):
        return None if value is None else "expected null"
    if ftype is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "expected a number"
    if ftype is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "expected a whole number"
    if ftype is str:
        return None if isinstance(value, str) else "expected a string"
    if ftype is bool:
        return None if isinstance(value, bool) else "expected true or false"
    return None


def describe_type(ftype: Any) -> str:
    """A type annotation as a message reads it: ``a list of strings``, ``'cpu' or 'cuda'``."""
    origin = typing.get_origin(ftype)
    if origin is list:
        item = typing.get_args(ftype)[0]
        plural = {str: "strings", int: "whole numbers", float: "numbers"}
        return f"a list of {plural.get(item, describe_type(item))}"
    if origin is Literal:
        return " or ".join(map(repr, typing.get_args(ftype)))
    if origin is dict:
        return "an object"
    return {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        type(None): "null",
    }.get(ftype, getattr(ftype, "__name__", str(ftype)))
