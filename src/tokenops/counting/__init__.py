"""Counting as the serving model counts: its own tokenizer files (Hugging Face `tokenizer.json` or a GGUF
file's vocabulary) and its chat template, loaded offline."""
