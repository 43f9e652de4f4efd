"""The Copilot tab's parts: declared tables, the rule form, notifications, settings, tester."""
