"""The `tokenops` command."""
