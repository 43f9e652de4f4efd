"""Copilot mode: rules that watch the market and the engine, their alerts and actions.

The rules, their conditions and the tester are pure (no threads, no clock reads); the monitor,
the decisions and the notifications run them inside the engine's process.
"""

from velocitas_desktop.copilot.conditions import CONDITIONS, describe_conditions
from velocitas_desktop.copilot.evaluator import Evaluator, RuleState, Trigger
from velocitas_desktop.copilot.rules import (
    ACTIONS,
    FREQUENCIES,
    SEVERITIES,
    Action,
    Frequency,
    Rule,
    RuleCondition,
    RuleError,
    Scope,
    parse_rules_file,
    rules_file,
)
from velocitas_desktop.copilot.templates import PLACEHOLDERS, render, template_problem
from velocitas_desktop.copilot.tester import test_rules

__all__ = ["ACTIONS", "CONDITIONS", "FREQUENCIES", "PLACEHOLDERS", "SEVERITIES", "Action",
           "Evaluator", "Frequency", "Rule", "RuleCondition", "RuleError", "RuleState", "Scope",
           "Trigger", "describe_conditions", "parse_rules_file", "render", "rules_file",
           "template_problem", "test_rules"]
