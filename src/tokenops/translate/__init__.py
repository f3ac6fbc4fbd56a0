"""Pure translators between the three client APIs, the canonical chat form and the upstream wire formats.

One module per API pair: requests, answers, stream events, stop reasons and usage.
No I/O here, so each translator is tested on its own.
"""
