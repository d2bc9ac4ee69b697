"""Studies: each is a Python function returning a result object (``.table()``,
``.to_frame()``, ``.plot()``, ``.to_json()``); the command line is a thin layer over them."""
