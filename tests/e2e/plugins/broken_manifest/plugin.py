raise AssertionError("a plugin with a broken manifest must never be imported")
