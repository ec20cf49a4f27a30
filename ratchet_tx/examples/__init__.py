"""
Example applications, usable with C{twistd ratchet --app}.
"""
