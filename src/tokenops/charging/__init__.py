"""Charging: money, price books, accounts, the hash-chained ledger, packages, budgets and credit control."""
