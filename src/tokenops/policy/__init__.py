"""The policy simulator: replay recorded traffic through a candidate catalog beside the policy in force."""

from tokenops.policy.report import Report
from tokenops.policy.side import Policy, Wallet, policy_of_spec, policy_of_store
from tokenops.policy.simulate import simulate
from tokenops.policy.traffic import Request, attach_usage, from_records, load_jsonl

__all__ = [
    "Policy",
    "Report",
    "Request",
    "Wallet",
    "attach_usage",
    "from_records",
    "load_jsonl",
    "policy_of_spec",
    "policy_of_store",
    "simulate",
]
