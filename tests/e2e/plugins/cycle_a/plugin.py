raise AssertionError("never imported")
